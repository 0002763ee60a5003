/// How a ``Floodgate`` guards calls: the limits and breakers per integration, the fleet, and coordination timing.
public struct FloodgateConfiguration: Sendable {
    /// This instance's name in the fleet's membership (unique per process; a random one by default).
    public var instanceID: String
    /// The limits of each integration, by integration name (`slack`, `hubspot`, ...).
    public var profiles: [String: ProviderProfile]
    /// The limits of an integration without a profile (none by default: only breakers and back-off apply).
    public var defaultProfile: ProviderProfile
    /// Breaker policy per integration; ``defaultBreaker`` for the others.
    public var breakers: [String: BreakerPolicy]
    public var defaultBreaker: BreakerPolicy
    /// The prefix of every Redis key Floodgate writes.
    public var keyPrefix: String
    /// `SUSPEND_REDIS`: never send a Redis command; each instance enforces its fixed share of every limit.
    public var suspendRedis: Bool
    /// How many instances the fleet is expected to run: the divisor of local-only shares, and the unit in which
    /// shared-mode shares are carved out of each limit.
    public var fleetSize: Int
    /// This instance's place in the fleet, `0..<fleetSize`, for local-only shares (the first `limit % fleetSize`
    /// instances get one permit more, so shares add up to exactly the limit).
    public var instanceIndex: Int
    /// The part of each limit handed out as per-instance allowances in shared mode (spent with no Redis command).
    /// The rest, and any allowance an instance does not use, goes by lease to the instances that need it.
    public var shareFraction: Double
    /// What an instance spends beyond the leases it holds once it cannot show that its allowance still adds up
    /// with the fleet's (its view of the membership is older than a heartbeat: Redis lost, or cut off).
    public var fallback: Fallback
    /// The largest difference between any two instances' clocks that cannot cause an overshoot.
    public var maximumClockSkew: Duration
    /// How often each instance reads the fleet's membership (and renews its own once less than half of
    /// ``membershipTTL`` is left of it).
    public var heartbeatInterval: Duration
    /// How long a membership lasts without renewal (an instance that stops renewing keeps its share counted this
    /// long, plus each policy's window). An instance renews when half of it is left, so an instance that dies stops
    /// being counted between half of it and all of it after its last heartbeat.
    public var membershipTTL: Duration
    /// How often at most an instance reports a breaker's failure and slow-call rates to the fleet (a run of failures
    /// is reported as it grows, since the fleet's verdict on it must not wait).
    public var breakerReportInterval: Duration
    /// An instance reports a breaker's rates once its local failure (or slow-call) rate reaches this share of the
    /// threshold (and its failures in a row from the second on); below it, a breaker costs no command.
    public var breakerReportFraction: Double
    /// After a provider's back-off ends, each instance waits a random extra time up to this, so the fleet does not
    /// return in one stampede.
    public var backoffJitter: Duration
    /// How long to hold a tenant connection back after a throttled response that gives no retry-after.
    public var defaultRetryAfter: Duration
    /// While Redis is unreachable, how often to try it again (a failing attempt sends nothing).
    public var recoveryInterval: Duration
    /// A key unused this long (and longer than its longest window) is dropped from memory.
    public var idleKeyTimeout: Duration
    /// Seed for the back-off jitter (nil: system randomness). Fix it for repeatable replays.
    public var randomSeed: UInt64?
    /// Integrations in shadow mode (`"*"`: all): calls are decided and counted as usual but never refused; what
    /// would have been refused is counted in ``Floodgate/shadowRefusals``. How a limit or a breaker is introduced
    /// without risk.
    public var shadowIntegrations: Set<String> = []

    /// Whether calls of `integration` are decided in shadow mode.
    public func isShadowed(_ integration: String) -> Bool {
        shadowIntegrations.contains("*") || shadowIntegrations.contains(integration)
    }

    /// What an instance without a fresh view of the fleet spends beyond its leases.
    public enum Fallback: String, Sendable, Hashable, CaseIterable {
        /// Nothing: the fleet never exceeds a limit, whatever is cut off from Redis (default).
        case exact
        /// The local-only share, `⌊limit / fleetSize⌋`: available through any outage; a whole-fleet outage stays
        /// within the limit while the fleet has at most `fleetSize` instances, and each instance cut off alone can
        /// add up to its share per window.
        case available
    }

    public init(
        instanceID: String = "fg-" + String(UInt64.random(in: 0...UInt64.max), radix: 36),
        profiles: [String: ProviderProfile] = [:],
        defaultProfile: ProviderProfile = .generic([]),
        breakers: [String: BreakerPolicy] = [:],
        defaultBreaker: BreakerPolicy = BreakerPolicy(),
        keyPrefix: String = "fg",
        suspendRedis: Bool = false,
        fleetSize: Int = 1,
        instanceIndex: Int = 0,
        shareFraction: Double = 0.75,
        fallback: Fallback = .exact,
        maximumClockSkew: Duration = .milliseconds(250),
        heartbeatInterval: Duration = .seconds(60),
        membershipTTL: Duration = .seconds(300),
        breakerReportInterval: Duration = .seconds(1),
        breakerReportFraction: Double = 0.5,
        backoffJitter: Duration = .seconds(2),
        defaultRetryAfter: Duration = .seconds(30),
        recoveryInterval: Duration = .seconds(1),
        idleKeyTimeout: Duration = .seconds(600),
        randomSeed: UInt64? = nil
    ) {
        self.instanceID = instanceID
        self.profiles = profiles
        self.defaultProfile = defaultProfile
        self.breakers = breakers
        self.defaultBreaker = defaultBreaker
        self.keyPrefix = keyPrefix
        self.suspendRedis = suspendRedis
        self.fleetSize = fleetSize
        self.instanceIndex = instanceIndex
        self.shareFraction = shareFraction
        self.fallback = fallback
        self.maximumClockSkew = maximumClockSkew
        self.heartbeatInterval = heartbeatInterval
        self.membershipTTL = membershipTTL
        self.breakerReportInterval = breakerReportInterval
        self.breakerReportFraction = breakerReportFraction
        self.backoffJitter = backoffJitter
        self.defaultRetryAfter = defaultRetryAfter
        self.recoveryInterval = recoveryInterval
        self.idleKeyTimeout = idleKeyTimeout
        self.randomSeed = randomSeed
    }

    /// The limits of calls on `key`.
    public func policies(for key: GuardKey) -> [RateLimitPolicy] {
        (profiles[key.integration] ?? defaultProfile).policies(for: key)
    }

    /// The breaker policy of an integration.
    public func breakerPolicy(for integration: String) -> BreakerPolicy {
        breakers[integration] ?? defaultBreaker
    }

    /// Checks every value; the error names the field.
    ///
    /// - Throws: ``FloodgateError`` `.invalidConfiguration`.
    public func validate() throws {
        func fail(_ field: String, _ message: String) throws {
            throw FloodgateError(.invalidConfiguration, message, field: field)
        }
        func naming<T>(_ field: String, _ check: () throws -> T) throws {
            do { _ = try check() } catch let error as FloodgateError { throw error.naming(field) }
        }
        if instanceID.isEmpty || instanceID.utf8.count > 128 || instanceID.utf8.contains(where: { $0 <= 0x20 || $0 >= 0x7F }) {
            try fail("instanceID", "instanceID must be 1–128 printable ASCII characters without spaces")
        }
        try naming("keyPrefix") { try RedisKeySchema(prefix: keyPrefix) }
        if fleetSize < 1 { try fail("fleetSize", "fleetSize must be at least 1") }
        if !(0..<max(1, fleetSize)).contains(instanceIndex) {
            try fail("instanceIndex", "instanceIndex \(instanceIndex) is outside a fleet of \(fleetSize) instances")
        }
        if !(0...1).contains(shareFraction) { try fail("shareFraction", "shareFraction must be within 0...1") }
        if !(0...1).contains(breakerReportFraction) { try fail("breakerReportFraction", "breakerReportFraction must be within 0...1") }
        if maximumClockSkew < .zero { try fail("maximumClockSkew", "maximumClockSkew must not be negative") }
        for (name, value) in [
            ("heartbeatInterval", heartbeatInterval), ("membershipTTL", membershipTTL),
            ("breakerReportInterval", breakerReportInterval), ("recoveryInterval", recoveryInterval),
            ("idleKeyTimeout", idleKeyTimeout),
        ] where value <= .zero {
            try fail(name, "\(name) must be positive")
        }
        if membershipTTL < heartbeatInterval * 2 { try fail("membershipTTL", "membershipTTL must be at least twice heartbeatInterval") }
        if backoffJitter < .zero { try fail("backoffJitter", "backoffJitter must not be negative") }
        if defaultRetryAfter <= .zero { try fail("defaultRetryAfter", "defaultRetryAfter must be positive") }
        for (name, profile) in profiles {
            try naming("limits.\(name)") {
                _ = try GuardKey(integration: name, tenant: "t")
                try profile.validate()
            }
        }
        try naming("defaultProfile") { try defaultProfile.validate() }
        for (name, breaker) in breakers {
            try naming("breakers.\(name)") {
                _ = try GuardKey(integration: name, tenant: "t")
                try breaker.validate()
            }
        }
        try naming("defaultBreaker") { try defaultBreaker.validate() }
    }
}
