import Foundation

/// Which process listens on a loopback TCP port, read from Linux's `/proc` (`/proc/net/tcp` for the listening
/// socket's inode, `/proc/PID/fd` for the process holding it).
enum ListeningSockets {
    /// Whether `pid` holds the socket listening on 127.0.0.1:`port`. Where `/proc` is missing (not Linux), true:
    /// a connect is then the only check.
    static func owner(ofLoopbackPort port: Int, is pid: Int32) -> Bool {
        guard let table = try? String(contentsOfFile: "/proc/net/tcp", encoding: .utf8) else { return true }
        let local = "0100007F:" + String(format: "%04X", port)
        let inodes = Set(
            table.split(separator: "\n").dropFirst().compactMap { line -> String? in
                // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                guard fields.count > 9, fields[1] == local, fields[3] == "0A" else { return nil }
                return String(fields[9])
            }
        )
        guard !inodes.isEmpty else { return false }
        let folder = "/proc/\(pid)/fd"
        guard let descriptors = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return false }
        return descriptors.contains { descriptor in
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(folder)/\(descriptor)") else {
                return false
            }
            return target.hasPrefix("socket:[") && inodes.contains(String(target.dropFirst(8).dropLast()))
        }
    }
}
