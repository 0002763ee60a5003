import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import FloodgateServer

/// Helpers for driving the sidecar's HTTP API in tests.
extension TestClientProtocol {
    /// Sends `body` (a JSON string) and returns the response.
    func send(_ method: HTTPRequest.Method, _ uri: String, _ body: String? = nil, headers: HTTPFields = [:]) async throws -> TestResponse {
        try await execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
    }
}

extension TestResponse {
    /// The body parsed as a JSON object.
    var object: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any] ?? [:]
    }

    /// The machine-readable error code of an error response.
    var errorCode: String? { (object["error"] as? [String: Any])?["code"] as? String }

    var text: String { String(buffer: body) }
}

/// A sidecar on the embedded default with extra settings.
func makeSidecar(_ settings: [String: String] = [:]) async throws -> Sidecar {
    let configuration = try await SidecarConfiguration.load(flags: [:], environment: settings)
    return try Sidecar(configuration: configuration)
}
