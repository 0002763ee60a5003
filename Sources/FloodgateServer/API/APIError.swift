import Floodgate
import Foundation
import HTTPTypes
import Hummingbird

/// An API error: an HTTP status, a machine-readable code and a message, sent as
/// `{"error": {"code": "...", "message": "...", "retryAt": <ms since 1970, refusals only>}}`.
struct APIError: HTTPResponseError, Sendable {
    let status: HTTPResponse.Status
    let code: String
    let message: String
    var retryAtMilliseconds: Int64?
    /// For 405: the methods the path accepts.
    var allow: String?

    init(_ status: HTTPResponse.Status, _ code: String, _ message: String, retryAtMilliseconds: Int64? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.retryAtMilliseconds = retryAtMilliseconds
    }

    struct Body: Codable, Sendable {
        struct Detail: Codable, Sendable {
            var code: String
            var message: String
            var retryAt: Int64?
        }
        var error: Detail
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = Body(error: .init(code: code, message: message, retryAt: retryAtMilliseconds))
        var headers: HTTPFields = [.contentType: "application/json"]
        if let allow { headers[.allow] = allow }
        if let retryAtMilliseconds {
            let seconds = max(0, (retryAtMilliseconds - Int64(Date().timeIntervalSince1970 * 1_000) + 999) / 1_000)
            headers[.retryAfter] = String(seconds)
        }
        let data = try responseEncoder.encode(body)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    // MARK: The errors the API gives

    static func badJSON(_ detail: String) -> APIError { APIError(.badRequest, "bad_json", detail) }
    static func invalidField(_ field: String, _ problem: String) -> APIError { APIError(.badRequest, "invalid_field", "\(field): \(problem)") }
    static func unknownIntegration(_ name: String) -> APIError {
        APIError(.notFound, "unknown_integration", "integration \(name.debugDescription) is not configured")
    }
    static func bodyTooLarge(_ limit: Int) -> APIError { APIError(.contentTooLarge, "body_too_large", "request bodies are limited to \(limit) bytes") }
    static func unknownPermit() -> APIError {
        APIError(.notFound, "unknown_permit", "no such permit: never issued, already recorded, or expired")
    }
    static let unauthorized = APIError(.unauthorized, "unauthorized", "a valid bearer token is required")

    /// The API's name of a refusal (`rate_limited`, `breaker_open`, `provider_backoff`); nil for other codes.
    static func refusalName(_ code: FloodgateError.Code) -> String? {
        switch code {
        case .rateLimited: "rate_limited"
        case .breakerOpen: "breaker_open"
        case .providerBackoff: "provider_backoff"
        default: nil
        }
    }

    /// A Floodgate refusal or input error.
    init(_ error: FloodgateError) {
        let retryAt = error.retryAt.map { $0.nanosecondsSince1970 / 1_000_000 }
        switch error.code {
        case .rateLimited: self.init(.tooManyRequests, "rate_limited", error.message, retryAtMilliseconds: retryAt)
        case .breakerOpen: self.init(.serviceUnavailable, "breaker_open", error.message, retryAtMilliseconds: retryAt)
        case .providerBackoff: self.init(.tooManyRequests, "provider_backoff", error.message, retryAtMilliseconds: retryAt)
        case .invalidKey: self.init(.badRequest, "invalid_key", error.message)
        case .shutDown: self.init(.serviceUnavailable, "shutting_down", error.message)
        default: self.init(.badRequest, "invalid_request", error.message)
        }
    }
}
