import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A private `redis-server` child process on a free loopback port, with persistence off.
///
/// Tests start one per suite and stop it; fault tests kill and restart it. The CLI uses one as its embedded default
/// when no Redis URL is given. Only 127.0.0.1 is ever bound.
public final class LocalRedisServer: Sendable {
    /// Where and how to start the server.
    public struct Options: Sendable {
        /// Extra `redis-server` arguments, e.g. `["--requirepass", "secret"]` or `["--rename-command", "HELLO", ""]`.
        public var arguments: [String]
        /// Serve TLS only (plain port off) with these PEM files.
        public var tls: TLSFiles?
        /// Pick a port whose cluster bus port (the port + 10,000) is free too, for a cluster node.
        public var clusterBus: Bool
        /// How long a start (or restart) may take until the server listens.
        public var startTimeout: Duration

        public init(arguments: [String] = [], tls: TLSFiles? = nil, clusterBus: Bool = false, startTimeout: Duration = .seconds(10)) {
            self.arguments = arguments
            self.tls = tls
            self.clusterBus = clusterBus
            self.startTimeout = startTimeout
        }
    }

    /// The certificate, key and CA files for a TLS-only server.
    public struct TLSFiles: Sendable {
        public var certificatePath: String
        public var keyPath: String
        public var caCertificatePath: String

        public init(certificatePath: String, keyPath: String, caCertificatePath: String) {
            self.certificatePath = certificatePath
            self.keyPath = keyPath
            self.caCertificatePath = caCertificatePath
        }
    }

    /// Why the server could not start.
    public struct StartError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Always 127.0.0.1.
    public let host = "127.0.0.1"
    /// The port the server listens on (TLS port for a TLS server).
    public let port: Int
    public let options: Options
    /// The folder holding the server's log and working files.
    public let directory: URL
    private let executable: String
    /// The child while it runs.
    private let child = Mutex<ChildProcess?>(nil)

    /// The server's URL, `redis://127.0.0.1:PORT` (or `rediss://` for TLS).
    public var url: String { "\(options.tls == nil ? "redis" : "rediss")://\(host):\(port)" }

    /// The path of the `redis-server` executable: `$REDIS_SERVER`, else the first found on `PATH`, `/usr/bin`,
    /// `/usr/sbin`, `/usr/local/bin`; nil when none is installed.
    public static func findExecutable() -> String? {
        let environment = ProcessInfo.processInfo.environment
        if let explicit = environment["REDIS_SERVER"], FileManager.default.isExecutableFile(atPath: explicit) {
            return explicit
        }
        let path = (environment["PATH"] ?? "").split(separator: ":").map(String.init)
        for folder in path + ["/usr/bin", "/usr/sbin", "/usr/local/bin"] {
            let candidate = folder + "/redis-server"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// The one-line explanation shown when `redis-server` is missing.
    public static let installHint =
        "redis-server is not installed: install it with `apt-get install -y redis-server` (Debian/Ubuntu) or `brew install redis`, or pass a Redis URL"

    /// Starts a server and waits until it accepts connections.
    public static func start(_ options: Options = Options()) async throws -> LocalRedisServer {
        guard let executable = findExecutable() else { throw StartError(description: installHint) }
        var lastError: (any Error)?
        // A port found free can be taken by someone else before the server binds it: try a few.
        for _ in 0..<5 {
            var port = try freeLoopbackPort()
            while options.clusterBus && (port > 55_535 || canConnect(port: port + 10_000)) { port = try freeLoopbackPort() }
            let server = try LocalRedisServer(executable: executable, port: port, options: options)
            do {
                try await server.launch()
                return server
            } catch {
                server.kill()
                lastError = error
            }
        }
        throw lastError ?? StartError(description: "redis-server did not start")
    }

    private init(executable: String, port: Int, options: Options) throws {
        self.executable = executable
        self.port = port
        self.options = options
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "floodgate-redis-\(port)-\(UUID().uuidString.prefix(8))"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    /// Whether the process is running.
    public var isRunning: Bool { child.withLock { $0?.isRunning ?? false } }

    /// The process id, while running.
    public var processID: Int32? { child.withLock { $0?.pid } }

    private var arguments: [String] {
        var arguments = [
            "--bind", host, "--save", "", "--appendonly", "no", "--daemonize", "no",
            "--dir", directory.path, "--logfile", directory.appendingPathComponent("redis.log").path,
            "--protected-mode", "no",
        ]
        if let tls = options.tls {
            arguments += [
                "--port", "0", "--tls-port", String(port), "--tls-cert-file", tls.certificatePath, "--tls-key-file",
                tls.keyPath, "--tls-ca-cert-file", tls.caCertificatePath, "--tls-auth-clients", "no",
            ]
        } else {
            arguments += ["--port", String(port)]
        }
        return arguments + options.arguments
    }

    /// Starts the child (tied to this process: it dies with it, even by a crash) and waits until it listens.
    private func launch() async throws {
        let process = try ChildProcess(executable, arguments: arguments, directory: directory.path)
        child.withLock { $0 = process }
        try await waitUntilListening(process)
    }

    /// Waits (up to the start timeout) until the port accepts connections *and* the listening socket is this child's, so a
    /// restart on the same port never mistakes another server for this one; fails early if the child exits.
    private func waitUntilListening(_ process: ChildProcess) async throws {
        let deadline = ContinuousClock.now + options.startTimeout
        while ContinuousClock.now < deadline {
            guard process.isRunning else {
                child.withLock { $0 = nil }
                let log = (try? String(contentsOf: directory.appendingPathComponent("redis.log"), encoding: .utf8)) ?? ""
                throw StartError(description: "redis-server exited at start: \(log.suffix(500))")
            }
            if ListeningSockets.owner(ofLoopbackPort: port, is: process.pid) && Self.canConnect(port: port) { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw StartError(description: "redis-server (pid \(process.pid)) did not listen on port \(port) within \(options.startTimeout)")
    }

    /// Stops the server with SIGTERM and waits for it to exit.
    public func stop() {
        end(signal: SIGTERM)
    }

    /// Kills the server with SIGKILL, as a crash would, and waits for it to exit.
    public func kill() {
        end(signal: SIGKILL)
    }

    private func end(signal: Int32) {
        guard let process = child.withLock({ process in
            defer { process = nil }
            return process
        }) else { return }
        process.end(signal: signal)
    }

    /// Pauses (SIGSTOP) or resumes (SIGCONT) the server: a stopped server sends no reply, like a hung one.
    public func pause(_ paused: Bool) {
        child.withLock { $0 }?.send(paused ? SIGSTOP : SIGCONT)
    }

    /// Starts the server again on the same port after ``stop()`` or ``kill()``.
    public func restart() async throws {
        guard !isRunning else { return }
        try await launch()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    // MARK: Sockets

    /// A port on 127.0.0.1 that nothing listens on right now.
    public static func freeLoopbackPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw StartError(description: "socket() failed: errno \(errno)") }
        defer { close(fd) }
        var address = loopbackAddress(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw StartError(description: "bind() failed: errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw StartError(description: "getsockname() failed: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func canConnect(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopbackAddress(port: port)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return result == 0
    }

    private static func loopbackAddress(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }
}
