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

    // MARK: What users feel (the scenario matrix)

    /// How calls reach instances.
    public var routing = Routing.uniform
    /// Which limits apply: the workload's one per integration, or the built-in provider profiles.
    public var limits = LimitSource.workload
    /// Scales the provider profiles' long-window limits (windows of an hour or more: HubSpot's day, Salesforce's
    /// rolling 24 hours), so that they bind inside a short replay; shorter limits stay as published.
    public var limitScale = 1.0
    /// Tenants (the most popular ones) offered `hotFactor` times the limit of their `hotIntegration` key on top of
    /// their share of the workload, in calls that bypass the response cache (writes).
    public var hotTenants = 0
    public var hotFactor = 2.0
    public var hotIntegration = 0
    /// A rolling restart: from `deployAt`, each instance in turn leaves gracefully and a new one (new instance id)
    /// joins in its place, `deployPause` apart.
    public var deployAt: Duration?
    public var deployPause: Duration = .seconds(10)
    /// `crashCount` instances die without leaving at `crashAt`; new ones take their places `deployPause` later.
    public var crashAt: Duration?
    public var crashCount = 1
    /// `partitioned` instances lose Redis (their connections cut at a loopback proxy) from `partitionAt` for
    /// `partitionFor`, while the others keep it.
    public var partitionAt: Duration?
    public var partitionFor: Duration = .seconds(60)
    public var partitioned = 1

    /// How calls are routed to instances.
    public enum Routing: String, Sendable, Hashable, CaseIterable, Codable {
        /// Each call to any instance (a load balancer).
        case uniform
        /// Each tenant's calls always to the same instance (sticky sessions, per-tenant workers, partitions).
        case sticky
        /// Instances chosen by a Zipf law (exponent 1): a few instances take most calls.
        case skewed
    }

    /// Where the limits come from.
    public enum LimitSource: String, Sendable, Hashable, CaseIterable, Codable {
        /// slack 50 per fixed minute, hubspot 100 per rolling 10 s, salesforce 100 per rolling minute.
        case workload
        /// The built-in Slack (per-method tiers, `chat.postMessage`'s bucket), HubSpot (10 s and daily) and
        /// Salesforce (rolling 24 h, 25 concurrent) profiles, scaled by ``Workload/limitScale``.
        case profiles
    }

    /// Slack methods called under the provider profiles, with their share of slack calls.
    public static let slackOperations: [(name: String, share: Double)] = [
        ("conversations.history", 0.4), ("users.list", 0.2), ("chat.postMessage", 0.3), ("reactions.add", 0.1),
    ]

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

    /// The limits of a call on `integration` (an index into ``integrations``) and, for slack under the profiles,
    /// `operation` (an index into ``slackOperations``).
    public func policies(integration: Int, operation: Int?) -> [RateLimitPolicy] {
        // The workload's names are valid keys: this cannot fail.
        guard let key = try? GuardKey(
            integration: Self.integrations[integration],
            tenant: "t",
            operation: operation.map { Self.slackOperations[$0].name }
        ) else { return [] }
        return profile(for: key.integration).policies(for: key)
    }

    /// The provider profile of `integration` as the replay's Floodgate instances use it.
    public func profile(for integration: String) -> ProviderProfile {
        switch limits {
        case .workload:
            return .generic([Self.policy(for: integration)])
        case .profiles:
            let profile: ProviderProfile
            switch integration {
            case "slack": profile = .slack()
            case "hubspot": profile = .hubSpot()
            default: profile = .salesforce()
            }
            return ProviderProfile(
                connectionLimits: profile.connectionLimits.map { $0.scaled(by: limitScale) },
                operationLimits: profile.operationLimits.mapValues { $0.map { $0.scaled(by: limitScale) } },
                defaultOperationLimits: profile.defaultOperationLimits.map { $0.scaled(by: limitScale) }
            )
        }
    }

    public var duration: Duration { .seconds(Int64(minutes) * 60) }
    /// When the outage starts and the 429 happens, from the start of the run.
    public var outageStart: Duration { duration / 3 }
    public var throttleAt: Duration { duration * 2 / 3 }
    /// The replayed outage: which integration (hubspot) fails every call, from when until when (offsets from the
    /// start of the run in nanoseconds); nil when the workload has none.
    var outageSpan: (integration: Int, start: Int64, end: Int64)? {
        guard outage else { return nil }
        let start = outageStart.components.seconds * 1_000_000_000
        return (1, start, start + Workload.outageLength.components.seconds * 1_000_000_000)
    }

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
        if instances > 100 { try fail("--instances must be at most 100") }
        if !(limitScale > 0 && limitScale.isFinite) { try fail("--limit-scale must be a positive number") }
        if hotTenants < 0 || hotTenants > tenants { try fail("--hot-tenants must be within 0...--tenants") }
        if !(hotFactor > 0 && hotFactor.isFinite && hotFactor <= 100) { try fail("--hot-factor must be within 0...100") }
        if !Self.integrations.indices.contains(hotIntegration) { try fail("--hot-integration: slack, hubspot or salesforce") }
        for (flag, at) in [("--deploy-at", deployAt), ("--crash-at", crashAt), ("--partition-at", partitionAt)] {
            if let at, at < .zero || at >= duration { try fail("\(flag) must be within the run (0 to --minutes × 60 seconds)") }
        }
        if deployPause < .zero { try fail("--deploy-pause must not be negative") }
        if crashCount < 1 || crashCount > instances { try fail("--crash-count must be within 1...--instances") }
        if partitionFor <= .zero { try fail("--partition-for must be positive") }
        if partitioned < 1 || partitioned >= instances, partitionAt != nil {
            try fail("--partitioned must be within 1...(--instances − 1): some instance keeps Redis")
        }
    }
}

extension RateLimitPolicy {
    /// The policy with its limit scaled by `factor` (at least 1) when its window is an hour or longer; other
    /// policies (short windows, buckets, concurrency) as they are.
    func scaled(by factor: Double) -> RateLimitPolicy {
        func scale(_ value: Int) -> Int { max(1, Int((Double(value) * factor).rounded())) }
        switch self {
        case .fixedWindow(let limit, let window) where window >= .seconds(3_600):
            return .fixedWindow(limit: scale(limit), window: window)
        case .rollingWindow(let limit, let window) where window >= .seconds(3_600):
            return .rollingWindow(limit: scale(limit), window: window)
        default:
            return self
        }
    }
}

extension Duration {
    /// The duration in seconds, as a double.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
