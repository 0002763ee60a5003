import Floodgate

/// The incident workload of `WORKLOAD.md`: every parameter, with the document's value as its default.
public struct Workload: Sendable, Hashable {
    /// App instances, each with its own Floodgate and Redis connections.
    public var instances = 4
    /// Tenants, each connected to every integration.
    public var tenants = 100
    /// Fleet-wide mean calls per second (Poisson arrivals).
    public var rate = 6.5
    /// Zipf exponent of tenant popularity.
    public var zipf = 1.1
    /// Share of calls per integration, in the order of ``integrations``.
    public var mix = [0.5, 0.3, 0.2]
    /// Cached objects per tenant connection, chosen uniformly.
    public var objects = 200
    /// Response cache TTL.
    public var cacheTTL: Duration = .seconds(60)
    /// Share of upstream calls failing at random.
    public var failureRate = 0.02
    /// Simulated duration.
    public var minutes = 60
    public var seed: UInt64 = 1
    /// The hubspot outage (5 minutes from a third of the run) and the 429 (two thirds) can be turned off.
    public var outage = true
    public var throttle = true

    /// The integrations, in the order of ``mix``.
    public static let integrations = ["slack", "hubspot", "salesforce"]
    /// How long the outage lasts, and the 429's retry-after.
    public static let outageLength: Duration = .seconds(300)
    public static let retryAfter: Duration = .seconds(30)

    public init() {}

    /// Each integration's limit per tenant connection: slack 50 per fixed minute, hubspot 100 per rolling 10 s,
    /// salesforce 100 per rolling minute.
    public static func policy(for integration: String) -> RateLimitPolicy {
        switch integration {
        case "slack": return .fixedWindow(limit: 50, window: .seconds(60))
        case "hubspot": return .rollingWindow(limit: 100, window: .seconds(10))
        default: return .rollingWindow(limit: 100, window: .seconds(60))
        }
    }

    public var duration: Duration { .seconds(Int64(minutes) * 60) }
    /// When the outage starts and the 429 happens, from the start of the run.
    public var outageStart: Duration { duration / 3 }
    public var throttleAt: Duration { duration * 2 / 3 }

    /// Checks every parameter; the error names it.
    ///
    /// - Throws: ``FloodgateError`` `.invalidConfiguration`.
    public func validate() throws {
        func fail(_ message: String) throws { throw FloodgateError(.invalidConfiguration, message) }
        if instances < 1 { try fail("--instances must be at least 1") }
        if tenants < 1 { try fail("--tenants must be at least 1") }
        if !(rate > 0 && rate.isFinite) { try fail("--rate must be a positive number of calls per second") }
        if !(zipf >= 0 && zipf.isFinite) { try fail("--zipf must be a non-negative number") }
        if mix.count != Self.integrations.count || mix.contains(where: { !($0 >= 0) }) || mix.reduce(0, +) <= 0 {
            try fail("--mix needs \(Self.integrations.count) non-negative shares (slack,hubspot,salesforce), e.g. 0.5,0.3,0.2")
        }
        if objects < 1 { try fail("--objects must be at least 1") }
        if cacheTTL <= .zero { try fail("--cache-ttl must be positive") }
        if !(0...1).contains(failureRate) { try fail("--failure-rate must be within 0...1") }
        if minutes < 1 { try fail("--minutes must be at least 1") }
    }
}
