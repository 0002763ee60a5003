import FloodgateTestSupport
import Foundation
import HummingbirdTesting
import Testing

@testable import FloodgateServer

/// `examples/python` against a live sidecar on the embedded default: the helper, the Slack example and its tests.
@Suite("Python example", .timeLimit(.minutes(3)))
struct SidecarPythonExampleTests {
    @Test func thePythonExamplePassesAgainstALiveSidecar() async throws {
        let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("examples/python")
        let sidecar = try await makeSidecar(["FLOODGATE_PORT": "0"])
        try await sidecar.makeApplication().test(.live) { client in
            let port = try #require(client.port)
            let run = try await ProgramRun.run(
                "python3",
                ["-m", "unittest", "-v", "test_example"],
                environment: [
                    "FLOODGATE_URL": "http://127.0.0.1:\(port)",
                    "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
                    "PYTHONDONTWRITEBYTECODE": "1",  // the suite leaves no __pycache__ in the tree
                ],
                directory: examples
            )
            #expect(run.status == 0, "\(run.output)")
            #expect(run.output.contains("Ran 4 tests") && run.output.contains("\nOK"), "\(run.output)")
        }
    }
}
