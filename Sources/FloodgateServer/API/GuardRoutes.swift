import Floodgate
import Foundation
import HTTPTypes
import Hummingbird

/// `/v1/acquire`, `/v1/record`, `/v1/keys/{integration}/{tenant}`, `/v1/breakers/{integration}`.
struct GuardRoutes: Sendable {
    let sidecar: Sidecar

    func register(on group: RouterGroup<BasicRequestContext>) {
        group.post("acquire") { request, _ in try await acquire(request) }
        group.post("record") { request, _ in try await record(request) }
        group.get("keys/:integration/:tenant") { request, context in try keyState(request, context) }
        group.post("breakers/:integration") { request, context in try await forceBreaker(request, context) }
    }

    /// Refuses integrations that are not configured.
    func checkConfigured(_ integration: String) throws {
        guard sidecar.configuration.integrations.contains(integration) else { throw APIError.unknownIntegration(integration) }
    }

    /// The guard key of a request, refusing integrations that are not configured.
    func key(integration: String, tenant: String, operation: String?) throws -> GuardKey {
        try checkConfigured(integration)
        do {
            return try GuardKey(integration: integration, tenant: tenant, operation: operation)
        } catch let error as FloodgateError {
            throw APIError(error)
        }
    }

    func acquire(_ request: Request) async throws -> Response {
        var request = request
        let body = try await request.decodeJSON(AcquireRequest.self, limit: sidecar.configuration.bodyLimit)
        let key = try key(integration: body.integration, tenant: body.tenant, operation: body.operation)
        if let wait = body.waitMs, wait < 0 || wait > 60_000 {
            throw APIError.invalidField("waitMs", "must be between 0 and 60000")
        }
        if let cost = body.cost, !(1...10_000).contains(cost) {
            throw APIError.invalidField("cost", "must be between 1 and 10000")
        }
        let permit: FloodgatePermit
        do {
            permit = try await sidecar.floodgate.acquire(
                key,
                cost: body.cost ?? 1,
                waitingUpTo: body.waitMs.flatMap { $0 > 0 ? .milliseconds($0) : nil }
            )
        } catch let error as FloodgateError {
            sidecar.metrics.decided(key.integration, error.code)
            throw APIError(error)
        }
        sidecar.metrics.decided(key.integration, nil)
        if let refusal = permit.shadowRefusal { sidecar.metrics.shadowRefused(key.integration, refusal) }
        let expiresAt = sidecar.now() + sidecar.configuration.permitTimeout.nanoseconds
        let id = sidecar.permits.insert(permit, expiresAt: expiresAt)
        return try json(AcquireResponse(
            permit: id,
            key: key.description,
            probe: permit.isProbe,
            expiresAt: expiresAt / 1_000_000,
            shadowRefusal: permit.shadowRefusal.flatMap(APIError.refusalName)
        ))
    }

    func record(_ request: Request) async throws -> Response {
        var request = request
        let body = try await request.decodeJSON(RecordRequest.self, limit: sidecar.configuration.bodyLimit)
        // Validate everything before taking the permit: a bad request changes nothing.
        let outcome = try outcome(of: body)
        if let duration = body.durationMs, duration < 0 { throw APIError.invalidField("durationMs", "must not be negative") }
        guard let permit = sidecar.permits.remove(body.permit) else { throw APIError.unknownPermit() }
        var duration = body.durationMs.map { Duration.milliseconds($0) }
        if body.outcome == "slow" {
            let slow = sidecar.floodgate.configuration.breakerPolicy(for: permit.key.integration).slowCallDuration
            duration = max(duration ?? .zero, slow)
        }
        sidecar.floodgate.record(permit, outcome, duration: duration)
        sidecar.metrics.recorded(outcome)
        var response = RecordResponse(recorded: Self.name(of: outcome))
        if case .throttled(let retryAfter) = outcome {
            response.retryAfterMs = Int((retryAfter ?? sidecar.configuration.guards.defaultRetryAfter).nanoseconds / 1_000_000)
        }
        return try json(response)
    }

    /// The outcome a record request names, or the one its provider response implies.
    func outcome(of body: RecordRequest) throws -> CallOutcome {
        if let name = body.outcome {
            guard body.status == nil else { throw APIError.invalidField("outcome", "give either outcome or status, not both") }
            switch name {
            case "success", "slow": return .success
            case "failure": return .failure
            case "ignored": return .ignored
            case "cancelled": return .cancelled
            case "throttled":
                if let wait = body.retryAfterMs, wait < 0 || wait > 86_400_000 {
                    throw APIError.invalidField("retryAfterMs", "must be between 0 and 86400000")
                }
                return .throttled(retryAfter: body.retryAfterMs.map { .milliseconds($0) })
            default:
                throw APIError.invalidField("outcome", "use success, failure, slow, throttled, ignored or cancelled")
            }
        }
        guard let status = body.status else { throw APIError.invalidField("outcome", "give an outcome or the provider's status") }
        guard (100...599).contains(status) else { throw APIError.invalidField("status", "must be an HTTP status (100–599)") }
        var fields = HTTPFields()
        for (name, value) in body.headers ?? [:] {
            guard let field = HTTPField.Name(name) else { throw APIError.invalidField("headers", "\(name.debugDescription) is not a header name") }
            fields[field] = value
        }
        let classification = ResponseClassifier(defaultRetryAfter: sidecar.configuration.guards.defaultRetryAfter)
            .classify(status: .init(code: status), headers: fields, body: body.body, unixTime: sidecar.now() / 1_000_000_000)
        return CallOutcome(classification)
    }

    static func name(of outcome: CallOutcome) -> String {
        switch outcome {
        case .success: "success"
        case .failure: "failure"
        case .throttled: "throttled"
        case .ignored: "ignored"
        case .cancelled: "cancelled"
        }
    }

    func keyState(_ request: Request, _ context: BasicRequestContext) throws -> Response {
        let key = try key(
            integration: context.parameters.get("integration") ?? "",
            tenant: context.parameters.get("tenant") ?? "",
            operation: request.uri.queryParameters.get("operation")
        )
        let (breaker, openUntil) = Self.describe(sidecar.floodgate.breakerState(of: key.integration))
        return try json(
            KeyStateResponse(
                key: key.description,
                mode: sidecar.modeName,
                breaker: breaker,
                breakerOpenUntil: openUntil,
                backoffUntil: sidecar.floodgate.backoffUntil(key).map { $0.nanosecondsSince1970 / 1_000_000 }
            )
        )
    }

    static func describe(_ state: BreakerState) -> (String, Int64?) {
        switch state {
        case .closed: ("closed", nil)
        case .open(let until): ("open", until.nanosecondsSince1970 / 1_000_000)
        case .halfOpen: ("halfOpen", nil)
        case .forcedOpen: ("forcedOpen", nil)
        case .forcedClosed: ("forcedClosed", nil)
        }
    }

    func forceBreaker(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        var request = request
        let integration = context.parameters.get("integration") ?? ""
        try checkConfigured(integration)
        let body = try await request.decodeJSON(BreakerRequest.self, limit: sidecar.configuration.bodyLimit)
        let open: Bool?
        switch body.state {
        case "open": open = true
        case "closed": open = false
        case "auto": open = nil
        default: throw APIError.invalidField("state", "use open, closed or auto")
        }
        do {
            try await sidecar.floodgate.forceBreaker(integration, open: open)
        } catch let error as FloodgateError {
            throw APIError(error)
        }
        return try json(BreakerResponse(integration: integration, breaker: Self.describe(sidecar.floodgate.breakerState(of: integration)).0))
    }
}

/// One encoder for every response (its configuration never changes after this; encoding is thread-safe).
let responseEncoder: JSONEncoder = {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]  // keys read "slack/T1/chat.postMessage"
    return encoder
}()

/// A JSON response.
func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
    let data = try responseEncoder.encode(value)
    return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
}
