/// The limits a provider applies, as policies per guarded key. Built-in profiles for Slack, HubSpot and Salesforce
/// follow their published limits; every field can be overridden, and ``generic(_:)`` covers anything else.
public struct ProviderProfile: Sendable, Hashable {
    /// Limits on all of a tenant connection's calls together (the key without its operation).
    public var connectionLimits: [RateLimitPolicy]
    /// Limits per operation, by operation name.
    public var operationLimits: [String: [RateLimitPolicy]]
    /// Limits for an operation not listed in ``operationLimits``.
    public var defaultOperationLimits: [RateLimitPolicy]

    public init(
        connectionLimits: [RateLimitPolicy] = [],
        operationLimits: [String: [RateLimitPolicy]] = [:],
        defaultOperationLimits: [RateLimitPolicy] = []
    ) {
        self.connectionLimits = connectionLimits
        self.operationLimits = operationLimits
        self.defaultOperationLimits = defaultOperationLimits
    }

    /// The policies that apply to a call on `key`: the connection's, plus its operation's when it has one.
    public func policies(for key: GuardKey) -> [RateLimitPolicy] {
        guard let operation = key.operation else { return connectionLimits }
        return connectionLimits + (operationLimits[operation] ?? defaultOperationLimits)
    }

    /// The policies kept for one scope: a connection key (no operation) has the connection's limits, shared by all
    /// of its operations; an operation key has only that operation's own limits.
    public func scopeLimits(for scope: GuardKey) -> [RateLimitPolicy] {
        guard let operation = scope.operation else { return connectionLimits }
        return operationLimits[operation] ?? defaultOperationLimits
    }

    /// Validates every policy of the profile.
    public func validate() throws {
        for policy in connectionLimits + defaultOperationLimits + operationLimits.values.flatMap({ $0 }) {
            try policy.validate()
        }
    }

    /// One set of limits for every call of a tenant connection.
    public static func generic(_ limits: [RateLimitPolicy]) -> ProviderProfile {
        ProviderProfile(connectionLimits: limits)
    }

    // MARK: Slack

    /// Slack's Web API tiers: limits per method per workspace, counted in one-minute windows.
    public enum SlackTier: Int, Sendable, Hashable, CaseIterable {
        case tier1 = 1, tier2, tier3, tier4

        /// Calls per minute ("1+", "20+", "50+", "100+" in Slack's documentation).
        public var perMinute: Int {
            switch self {
            case .tier1: return 1
            case .tier2: return 20
            case .tier3: return 50
            case .tier4: return 100
            }
        }
    }

    /// Slack: each method limited per workspace by its tier (unlisted methods: `defaultTier`), in fixed one-minute
    /// windows. `chat.postMessage` has its own "special" limit instead of a tier: about one message per second
    /// with short bursts, modelled as a token bucket.
    public static func slack(
        tiers: [String: SlackTier] = [
            "conversations.history": .tier3, "conversations.list": .tier2, "users.list": .tier2,
            "users.info": .tier4, "chat.update": .tier3, "reactions.add": .tier3, "auth.test": .tier4,
        ],
        defaultTier: SlackTier = .tier3,
        postMessage: RateLimitPolicy = .tokenBucket(rate: 1, period: .seconds(1), burst: 5)
    ) -> ProviderProfile {
        var operations = tiers.mapValues { [RateLimitPolicy.fixedWindow(limit: $0.perMinute, window: .seconds(60))] }
        operations["chat.postMessage"] = [postMessage]
        return ProviderProfile(
            operationLimits: operations,
            defaultOperationLimits: [.fixedWindow(limit: defaultTier.perMinute, window: .seconds(60))]
        )
    }

    // MARK: HubSpot

    /// HubSpot: a burst limit per rolling ten seconds plus a daily limit, per account (private apps on the
    /// Free/Starter tier by default: 100 per 10 s, 250,000 a day).
    public static func hubSpot(perTenSeconds: Int = 100, perDay: Int = 250_000) -> ProviderProfile {
        .generic([
            .rollingWindow(limit: perTenSeconds, window: .seconds(10)),
            .fixedWindow(limit: perDay, window: .seconds(86_400)),
        ])
    }

    // MARK: Salesforce

    /// Salesforce: a rolling 24-hour allocation of API requests per org plus, in production orgs, 25 concurrent
    /// long-running requests.
    public static func salesforce(perDay: Int = 100_000, concurrentLongRunning: Int = 25) -> ProviderProfile {
        .generic([
            .rollingWindow(limit: perDay, window: .seconds(86_400)),
            .concurrency(limit: concurrentLongRunning, leaseTimeout: .seconds(120)),
        ])
    }
}
