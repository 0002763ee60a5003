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

    /// Runs pytest with `FLOODGATE_URL` (and `FLOODGATE_URL_B`); its exit status and output.
    static func pytest(_ urls: [String]) async throws -> ProgramRun {
        var environment = [
            "FLOODGATE_URL": urls[0],
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
            "PYTHONPATH": package.appendingPathComponent("src").path,
            "PYTHONDONTWRITEBYTECODE": "1",  // the suite leaves no __pycache__ in the tree
        ]
        if urls.count > 1 { environment["FLOODGATE_URL_B"] = urls[1] }
        return try await ProgramRun.run(
            "python3",
            ["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
            environment: environment,
            directory: package
        )
    }

    @Test func thePytestSuitePassesAgainstTheEmbeddedDefault() async throws {
        let sidecar = try await makeSidecar(["FLOODGATE_PORT": "0"])
        try await sidecar.makeApplication().test(.live) { client in
            let run = try await Self.pytest(["http://127.0.0.1:\(try #require(client.port))"])
            #expect(run.status == 0, "\(run.output)")
            #expect(run.output.contains(" passed") && !run.output.contains(" failed"), "\(run.output)")
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
                #expect(run.output.contains(" passed") && !run.output.contains("skipped"), "the fleet test ran too: \(run.output)")
            }
        }
    }
}
