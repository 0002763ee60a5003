/// The JSON bodies of the `/v1` API (described in `openapi.yaml`).

struct AcquireRequest: Decodable, Sendable {
    var integration: String
    var tenant: String
    var operation: String?
    /// How long to wait for capacity; 0 or absent: fail fast.
    var waitMs: Int?
    /// How many calls this one counts as against the limits (a batch); absent: 1.
    var cost: Int?
}

struct AcquireResponse: Codable, Sendable {
    var permit: String
    var key: String
    /// Whether the call is one of its breaker's half-open probes.
    var probe: Bool
    /// When the permit is given back unless recorded (ms since 1970).
    var expiresAt: Int64
    /// Shadow mode: the refusal the call would have met (it was let through).
    var shadowRefusal: String?
}

struct RecordRequest: Decodable, Sendable {
    var permit: String
    /// `success`, `failure`, `slow`, `throttled`, `ignored` or `cancelled`; or give the provider's response instead.
    var outcome: String?
    /// For `throttled`: how long the provider asked to wait.
    var retryAfterMs: Int?
    /// How long the call took (slow calls count against the breaker).
    var durationMs: Int?
    /// The provider's response, classified by Floodgate (429, `Retry-After`, Slack `ratelimited`, HubSpot and
    /// Salesforce limits).
    var status: Int?
    var headers: [String: String]?
    var body: String?
}

struct RecordResponse: Codable, Sendable {
    var recorded: String
    var retryAfterMs: Int?
}

struct KeyStateResponse: Codable, Sendable {
    var key: String
    var mode: String
    /// `closed`, `open`, `halfOpen`, `forcedOpen` or `forcedClosed`.
    var breaker: String
    var breakerOpenUntil: Int64?
    var backoffUntil: Int64?
}

struct BreakerRequest: Decodable, Sendable {
    /// `open`, `closed` (forced) or `auto` (back to the failure counts).
    var state: String
}

struct BreakerResponse: Codable, Sendable {
    var integration: String
    var breaker: String
}

struct CacheValueResponse: Codable, Sendable {
    var key: String
    var value: String
}

struct CachePutRequest: Decodable, Sendable {
    var value: String
    var ttlMs: Int
    /// The claim from `POST /v1/cache/{key}/load`, released by this write.
    var claim: String?
}

struct CacheLoadRequest: Decodable, Sendable {
    /// How long the claim lasts if the loader never writes (default 10 s).
    var claimMs: Int?
}

struct CacheLoadResponse: Codable, Sendable {
    var hit: Bool
    var value: String?
    /// Whether this caller must load the value and `PUT` it (with `claim`).
    var load: Bool
    var claim: String?
    /// When another caller is loading: try again after this long.
    var retryAfterMs: Int?
}

/// `PUT /v1/admin/redis`: the kill switch.
struct RedisSwitchRequest: Decodable, Sendable {
    var enabled: Bool
}

struct RedisSwitchResponse: Codable, Sendable {
    var enabled: Bool
    var mode: String
}

struct ReloadResponse: Codable, Sendable {
    var reloaded: Bool
    var mode: String
}
