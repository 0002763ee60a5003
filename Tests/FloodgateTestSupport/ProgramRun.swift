import FloodgateLocalRedis
import Foundation
import Testing

/// A program run to its end by a test: its exit status and everything it wrote to standard output and error.
public struct ProgramRun: Sendable {
    public var status: Int32
    public var output: String

    /// Runs `executable` (a path, or a name looked up on `PATH` through `/usr/bin/env`) tied to the test process,
    /// awaiting its end without blocking a thread; killed and reported as a time-out after `timeout`.
    public static func run(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String]? = nil,
        directory: URL? = nil,
        timeout: Duration = .seconds(120)
    ) async throws -> ProgramRun {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("floodgate-run-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: log) }
        let (path, prefix) = executable.hasPrefix("/") ? (executable, []) : ("/usr/bin/env", [executable])
        let child = try ChildProcess(
            path,
            arguments: prefix + arguments,
            environment: environment,
            directory: directory?.path ?? FileManager.default.currentDirectoryPath,
            output: log
        )
        let status: Int32
        do {
            status = try await withDeadline(timeout, "\(executable) \(arguments.first ?? "") exits") {
                await child.waitForExit()
            }
        } catch {
            child.end(signal: SIGKILL)
            throw error
        }
        return ProgramRun(status: status, output: (try? String(contentsOf: log, encoding: .utf8)) ?? "")
    }
}
