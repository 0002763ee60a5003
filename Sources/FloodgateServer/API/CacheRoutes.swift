import Floodgate
import Hummingbird
import Synchronization

/// `/v1/cache/{key}`: get, put, delete, and `load` (get, or be told to load: one loader per key at a time).
struct CacheRoutes: Sendable {
    let sidecar: Sidecar

    func register(on group: RouterGroup<BasicRequestContext>) {
        group.get("cache/:key") { _, context in try await get(context) }
        group.put("cache/:key") { request, context in try await put(request, context) }
        group.delete("cache/:key") { _, context in try await delete(context) }
        group.post("cache/:key/load") { request, context in try await load(request, context) }
    }

    /// Cache keys: 1–256 characters of letters, digits and `._:@-` (one URL path segment, never another key).
    static func key(_ context: BasicRequestContext) throws -> String {
        let key = context.parameters.get("key") ?? ""
        let allowed = key.utf8.allSatisfy { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                || [UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"), UInt8(ascii: "@"), UInt8(ascii: "-")].contains(byte)
        }
        guard (1...256).contains(key.utf8.count), allowed else {
            throw APIError.invalidField("key", "1–256 characters of letters, digits and ._:@-")
        }
        return key
    }

    func get(_ context: BasicRequestContext) async throws -> Response {
        let key = try Self.key(context)
        guard let value = try await sidecar.cache.get(key, as: String.self) else {
            throw APIError(.notFound, "cache_miss", "no value for \(key)")
        }
        return try json(CacheValueResponse(key: key, value: value))
    }

    func put(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        var request = request
        let key = try Self.key(context)
        let body = try await request.decodeJSON(CachePutRequest.self, limit: sidecar.configuration.bodyLimit)
        let maximum = Int(sidecar.cache.configuration.maximumTTL.nanoseconds / 1_000_000)
        guard (1...maximum).contains(body.ttlMs) else { throw APIError.invalidField("ttlMs", "must be between 1 and \(maximum)") }
        try await sidecar.cache.set(key, to: body.value, ttl: .milliseconds(body.ttlMs))
        if let claim = body.claim { sidecar.claims.release(key, claim: claim) }
        return Response(status: .noContent)
    }

    func delete(_ context: BasicRequestContext) async throws -> Response {
        let key = try Self.key(context)
        try await sidecar.cache.delete(key)
        return Response(status: .noContent)
    }

    func load(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        var request = request
        let key = try Self.key(context)
        let body = try await request.decodeJSON(CacheLoadRequest.self, limit: sidecar.configuration.bodyLimit)
        let claimFor = body.claimMs ?? 10_000
        guard (1...300_000).contains(claimFor) else { throw APIError.invalidField("claimMs", "must be between 1 and 300000") }
        if let value = try await sidecar.cache.get(key, as: String.self) {
            return try json(CacheLoadResponse(hit: true, value: value, load: false))
        }
        let now = sidecar.now()
        switch sidecar.claims.claim(key, at: now, lasting: Int64(claimFor) * 1_000_000) {
        case .granted(let claim):
            return try json(CacheLoadResponse(hit: false, load: true, claim: claim))
        case .heldUntil(let until):
            let wait = max(10, min(1_000, (until - now) / 1_000_000))
            return try json(CacheLoadResponse(hit: false, load: false, retryAfterMs: Int(wait)))
        }
    }
}

/// Who is loading which cache key: one claim per key until it is written or expires.
final class CacheClaims: Sendable {
    enum Answer {
        case granted(String)
        case heldUntil(Int64)
    }

    private let claims = Mutex<[String: (claim: String, until: Int64)]>([:])

    func claim(_ key: String, at now: Int64, lasting: Int64) -> Answer {
        claims.withLock { claims in
            if let held = claims[key], held.until > now { return .heldUntil(held.until) }
            if claims.count > 10_000 { claims = claims.filter { $0.value.until > now } }
            let claim = String(UInt64.random(in: 0...UInt64.max), radix: 36)
            claims[key] = (claim, now + lasting)
            return .granted(claim)
        }
    }

    func release(_ key: String, claim: String) {
        claims.withLock { claims in
            if claims[key]?.claim == claim { claims[key] = nil }
        }
    }
}
