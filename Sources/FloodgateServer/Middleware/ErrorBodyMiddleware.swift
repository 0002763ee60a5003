import Hummingbird

/// Gives every error a JSON body with a machine-readable code: the API's own errors pass through; the router's
/// (no such route; a known path with another method is 405 with `Allow`) and anything unexpected become `{"error": {"code", "message"}}` — an unexpected
/// error is logged and answered 500 without its details.
struct ErrorBodyMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch let error as HTTPError {
            switch error.status {
            case .notFound:
                let allowed = SidecarEndpoints.methods(forPath: request.uri.path)
                guard allowed.isEmpty else {
                    var refusal = APIError(.methodNotAllowed, "method_not_allowed", "\(request.method) is not allowed on \(request.uri.path)")
                    refusal.allow = allowed.map { $0.uppercased() }.joined(separator: ", ")
                    throw refusal
                }
                throw APIError(.notFound, "not_found", "no such endpoint: \(request.method) \(request.uri.path)")
            case .methodNotAllowed: throw APIError(.methodNotAllowed, "method_not_allowed", "\(request.method) is not allowed on \(request.uri.path)")
            case .contentTooLarge: throw APIError(.contentTooLarge, "body_too_large", "the request body is too large")
            default: throw APIError(error.status, "http_\(error.status.code)", error.body ?? error.status.reasonPhrase)
            }
        } catch {
            context.logger.error("unexpected error", metadata: ["error.type": "\(type(of: error))"])
            throw APIError(.internalServerError, "internal", "internal error")
        }
    }
}
