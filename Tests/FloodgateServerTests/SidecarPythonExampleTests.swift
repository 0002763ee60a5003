import Foundation
import HummingbirdTesting
import Testing

@testable import FloodgateServer

/// `examples/python` against a live sidecar on the embedded default: the helper, the Slack example and its tests.
@Suite("Python example")
struct SidecarPythonExampleTests {
    @Test func thePythonExamplePassesAgainstALiveSidecar() async throws {
        let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("examples/python")
        let sidecar = try await makeSidecar(["FLOODGATE_PORT": "0"])
        try await sidecar.makeApplication().test(.live) { client in
            let port = try #require(client.port)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", "-m", "unittest", "-v", "test_example"]
            process.currentDirectoryURL = examples
            process.environment = ["FLOODGATE_URL": "http://127.0.0.1:\(port)", "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = output
            try process.run()
            // Read while it runs (a full pipe would block it), then wait for it.
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "\(text)")
            #expect(text.contains("Ran 4 tests") && text.contains("OK"), "\(text)")
        }
    }
}
