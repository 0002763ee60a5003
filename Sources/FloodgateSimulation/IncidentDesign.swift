import Floodgate
import FloodgateRedis

/// The two baselines, as the incident describes them (small and honest, clearly not Floodgate):
/// - `naive`: the quota check goes through the cache (a GET for the quota, then the cache's own GET); every upstream
///   call reads the rate-limit counter and the breaker state from Redis.
/// - `ttl`: the incident's fix: quota checks on the client directly; rate-limit state cached locally for 5 s, breaker
///   state for 10 s.
///
/// Both count rate limits in fixed windows of the policy's length (`GET` the counter, `INCR` it after the call),
/// count failures per integration and minute (10 in a minute open the breaker for 30 s), and treat a 429 as a failure
/// (they have no fleet-wide back-off).
final class IncidentInstance: ReplayedInstance {
    enum Kind {
        case naive
        case ttl
    }

    /// What the fleet's instances have written to their breaker keys (integration → open-until), i.e. what Redis
    /// holds: the simulation reads it to say what an instance would decide without sending a command.
    final class BreakerKeys {
        var openUntil: [String: Int64] = [:]
    }

    let kind: Kind
    let redis: RedisClient
    let breakerKeys: BreakerKeys
    private var rateLimitCache: [String: (count: Int, readAt: Int64)] = [:]
    private var breakerCache: [String: (openUntil: Int64, readAt: Int64)] = [:]
    private let tasks = InstanceTasks()
    var client: RedisClient { redis }
    /// Every command but the cache's is sent in the call: the quota, rate-limit and breaker reads and writes.
    let ownCallComponents: Set<RedisComponent> = [.rateLimit, .breaker, .budget]

    init(kind: Kind, redis: RedisClient, breakerKeys: BreakerKeys) {
        self.kind = kind
        self.redis = redis
        self.breakerKeys = breakerKeys
    }

    func start(clientTask: Task<Void, any Error>?) {
        tasks.runClient(redis, adopting: clientTask)
    }

    func stop(gracefully: Bool) async { await tasks.stop(order: ["client"]) }

    static let second: Int64 = 1_000_000_000

    /// One call; returns what happened.
    func call(
        _ call: SimulatedCall,
        at now: Int64,
        workload: Workload,
        upstream: @escaping @Sendable (SimulatedCall) -> CallSchedule.Answer
    ) async throws -> SimulatedOutcome {
        let integration = Workload.integrations[call.integration]
        let tenant = "t\(call.tenant)"
        let day = now / (86_400 * Self.second)
        let quotaKey = "quota:\(tenant):\(day)"
        try await checkQuota(quotaKey)
        let operation = call.operation.map { ":" + Workload.slackOperations[$0].name } ?? ""
        let cacheKey = "cache:\(integration):\(tenant):\(call.object)"
        // The entry carries its expiry on the replay's clock: Redis's own expiry runs on real time, which the replay
        // compresses (a GET that finds an expired entry is the miss it would be in real time).
        if call.cacheable, let cached = try await redis.labelled(.cache).getString(cacheKey),
            let expiresAt = Int64(cached.prefix { $0 != "|" }), expiresAt > now
        {
            return .servedFromCache(redis: true)
        }

        // Rate limits: read each window's counter (fixed windows of each limit's length).
        var rateKeys: [(key: String, window: Int64)] = []
        for (index, (limit, window)) in Self.limits(of: call, workload: workload).enumerated() {
            let rateKey = "rl:\(integration):\(tenant)\(operation):\(index):\(now / window)"
            let used: Int
            if kind == .ttl, let cached = rateLimitCache[rateKey], now - cached.readAt < 5 * Self.second {
                used = cached.count
            } else {
                used = Int(try await redis.labelled(.rateLimit).getString(rateKey) ?? "0") ?? 0
                rateLimitCache[rateKey] = (used, now)
            }
            guard used < limit else { return .refused(.rateLimited) }
            rateKeys.append((rateKey, window))
        }
        // Breaker: read its state.
        let breakerKey = "cb:\(integration)"
        let openUntil: Int64
        if kind == .ttl, let cached = breakerCache[breakerKey], now - cached.readAt < 10 * Self.second {
            openUntil = cached.openUntil
        } else {
            openUntil = Int64(try await redis.labelled(.breaker).getString(breakerKey) ?? "0") ?? 0
            breakerCache[breakerKey] = (openUntil, now)
        }
        guard openUntil <= now else { return .refused(.breakerOpen) }

        let answer = upstream(call)
        for (rateKey, window) in rateKeys {
            let count = try await redis.labelled(.rateLimit).incrby(rateKey)
            if count == 1 { _ = try await redis.labelled(.rateLimit).pexpire(rateKey, milliseconds: Int(2 * window / 1_000_000)) }
            if kind == .ttl, let cached = rateLimitCache[rateKey] { rateLimitCache[rateKey] = (cached.count + 1, cached.readAt) }
        }
        _ = try await redis.labelled(.budget).incrby(quotaKey)
        switch answer {
        case .success where !call.cacheable:
            break
        case .success:
            let ttl = workload.cacheTTL.components.seconds * Self.second
            try await redis.labelled(.cache).set(cacheKey, to: "\(now + ttl)|response", expiration: .milliseconds(Int(ttl / 1_000_000)))
        case .failure, .throttled:
            let failuresKey = "cbf:\(integration):\(now / (60 * Self.second))"
            let failures = try await redis.labelled(.breaker).incrby(failuresKey)
            if failures == 1 { _ = try await redis.labelled(.breaker).pexpire(failuresKey, milliseconds: 120_000) }
            if failures >= 10, openUntil <= now {
                try await redis.labelled(.breaker).set(breakerKey, to: String(now + 30 * Self.second), expiration: .seconds(60))
                breakerKeys.openUntil[integration] = now + 30 * Self.second
            }
        }
        return .upstream(answer)
    }

    /// `naive` reads the breaker key on every call, `ttl` uses its cached read while it is fresh.
    func refusesBreaker(of integration: String, at now: Int64) -> Bool {
        if kind == .ttl, let cached = breakerCache["cb:\(integration)"], now - cached.readAt < 10 * Self.second {
            return cached.openUntil > now
        }
        return breakerKeys.openUntil[integration, default: 0] > now
    }

    /// The baselines have no back-off: a 429 counts as a failure.
    func holdsBack(_ integration: String, tenant: String, at now: Int64) -> Bool { false }

    var cacheStatistics: ResponseCache.Statistics? { nil }

    var spreadsFaultsByEvents: Bool { false }

    var hasWorkInFlight: Bool { false }

    var cacheEventsHeard: Int? { nil }

    var fleetMessages: (published: Int, heard: Int)? { nil }

    var isReady: Bool { true }

    /// The quota manager's check on a cache read: one GET of the day's usage (the `budget` component). In `naive` the
    /// cache asks the quota manager, which reads through the cache (the incident's recursion, cut after one level:
    /// still one GET); in `ttl` the quota manager uses the client directly. Either way: one GET per cache read.
    private func checkQuota(_ key: String) async throws {
        _ = try await redis.labelled(.budget).get(key)
    }

    /// Each limit of the call's key as a fixed window of its length (a bucket: its rolling equivalent).
    static func limits(of call: SimulatedCall, workload: Workload) -> [(Int, Int64)] {
        workload.policies(integration: call.integration, operation: call.operation)
            .compactMap(UsageFigures.measure)
            .map { ($0.limit, $0.window) }
    }
}

/// What one call came to.
enum SimulatedOutcome: Sendable, Hashable {
    case servedFromCache(redis: Bool)
    case refused(FloodgateError.Code)
    case upstream(CallSchedule.Answer)
    /// The call failed because its instance could not reach Redis (a partition).
    case failed
    /// No instance was up to take the call (every one crashed or left, none replaced yet).
    case unserved
}
