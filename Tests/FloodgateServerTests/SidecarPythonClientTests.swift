import FloodgateLocalRedis
import FloodgateTestSupport
import Foundation
import HummingbirdTesting
import Testing

@testable import FloodgateServer

/// `clients/python`'s pytest suite against live sidecars: on the embedded default (memory store), and as two
/// sidecars sharing a private Redis (a 429 seen through one holds the tenant back on the other).
@Suite("Python client", .serialized, .timeLimit(.minutes(3)))
struct SidecarPythonClientTests {
    static let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("clients/python")

    /// Runs pytest with `FLOODGATE_URL` (and `FLOODGATE_URL_B`, `FLOODGATE_SOCKET`); its exit status and output.
    static func pytest(_ urls: [String], socket: String? = nil) async throws -> ProgramRun {
        var environment = [
            "FLOODGATE_URL": urls[0],
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
            "PYTHONPATH": package.appendingPathComponent("src").path,
            "PYTHONDONTWRITEBYTECODE": "1",  // the suite leaves no __pycache__ in the tree
        ]
        if urls.count > 1 { environment["FLOODGATE_URL_B"] = urls[1] }
        if let socket { environment["FLOODGATE_SOCKET"] = socket }
        return try await ProgramRun.run(
            "python3",
            ["-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "tests"],
            environment: environment,
            directory: package
        )
    }

    @Test func thePytestSuitePassesAgainstTheEmbeddedDefault() async throws {
        let sidecar = try await makeSidecar(["FLOODGATE_PORT": "0"])
        // A second one on a Unix socket, for the client's unix:// URLs.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fg-py-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let socket = folder.appendingPathComponent("floodgate.sock").path
        let onSocket = try FloodgateProcess.serve(socket: socket)
        defer { onSocket.end(signal: SIGTERM) }
        try await eventually("the sidecar listens on its socket") { FileManager.default.fileExists(atPath: socket) }
        try await sidecar.makeApplication().test(.live) { client in
            let run = try await Self.pytest(["http://127.0.0.1:\(try #require(client.port))"], socket: socket)
            #expect(run.status == 0, "\(run.output)")
            #expect(run.output.contains(" passed") && !run.output.contains(" failed"), "\(run.output)")
            #expect(run.output.contains("1 skipped") && run.output.contains("needs a second sidecar"), "only the fleet test is skipped: \(run.output)")
        }
    }

    @Test func thePytestSuitePassesAcrossTwoSidecarsOnOneRedis() async throws {
        let redis = try await LocalRedisServer.start()
        defer { redis.stop() }
        let settings = ["REDIS_URL": redis.url, "FLOODGATE_PORT": "0"]
        let a = try await makeSidecar(settings.merging(["INSTANCE_ID": "py-a"]) { $1 })
        let b = try await makeSidecar(settings.merging(["INSTANCE_ID": "py-b"]) { $1 })
        try await a.makeApplication().test(.live) { clientA in
            try await b.makeApplication().test(.live) { clientB in
                try await eventually("both sidecars coordinate") { a.modeName == "shared" && b.modeName == "shared" }
                let run = try await Self.pytest(["http://127.0.0.1:\(try #require(clientA.port))", "http://127.0.0.1:\(try #require(clientB.port))"])
                #expect(run.status == 0, "\(run.output)")
                #expect(run.output.contains(" passed") && !run.output.contains("needs a second sidecar"), "the fleet test ran too: \(run.output)")
            }
        }
    }
}
