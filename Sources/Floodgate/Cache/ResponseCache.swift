import FloodgateRESP
import FloodgateRedis
import Logging
import Metrics
import NIOCore
import ServiceLifecycle
import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A two-tier cache of third-party API responses: an in-process near cache (``NearCache``) in front of Redis.
///
/// Exact command costs: a near-cache hit costs no command; a miss costs one `GET` (and, when the loader runs, one
/// `SET` to fill Redis); a write (`set`, `delete`) costs one command, plus one `PUBLISH` in publish mode. Nothing
/// else: the command budget is a local read. Concurrent misses of one key share one Redis read and one loader run
/// (single-flight), misses are remembered for `negativeTTL`, and with `staleWhileRevalidate` an expired value is
/// served while one background reload runs.
///
/// Other instances' writes reach the near cache by Redis server-assisted client-side caching (`CLIENT TRACKING BCAST`
/// on the cache's key prefix, `NOLOOP`) when the server allows it, otherwise by invalidation messages that writers publish; staleness is always
/// bounded by the entry's TTL. The near cache is flushed whenever the invalidation stream may have missed something
/// (connection lost, server flush, subscription re-established). When the ``CommandBudget`` sheds, the cache serves
/// and fills its near tier only.
public final class ResponseCache: Service, Sendable {
    public struct Configuration: Sendable {
        public var keyPrefix: String
        /// Near-cache bounds.
        public var maximumEntries: Int
        public var maximumBytes: Int
        /// How long a miss (the loader returned nil) is remembered.
        public var negativeTTL: Duration
        /// How long past its TTL a value may be served while one reload runs (zero: never).
        public var staleWhileRevalidate: Duration
        /// Use `CLIENT TRACKING` when the server allows it (`automatic`), or always publish invalidations.
        public var invalidation: InvalidationPreference

        public enum InvalidationPreference: Sendable, Hashable {
            case automatic
            case publish
        }

        public init(
            keyPrefix: String = "fg",
            maximumEntries: Int = 100_000,
            maximumBytes: Int = 64 << 20,
            negativeTTL: Duration = .seconds(10),
            staleWhileRevalidate: Duration = .zero,
            invalidation: InvalidationPreference = .automatic
        ) {
            self.keyPrefix = keyPrefix
            self.maximumEntries = maximumEntries
            self.maximumBytes = maximumBytes
            self.negativeTTL = negativeTTL
            self.staleWhileRevalidate = staleWhileRevalidate
            self.invalidation = invalidation
        }

        /// - Throws: ``FloodgateError`` `.invalidConfiguration` naming the field.
        public func validate() throws {
            _ = try RedisKeySchema(prefix: keyPrefix)
            if maximumEntries <= 0 { throw FloodgateError(.invalidConfiguration, "cache: maximumEntries must be positive") }
            if maximumBytes <= 0 { throw FloodgateError(.invalidConfiguration, "cache: maximumBytes must be positive") }
            if negativeTTL < .zero { throw FloodgateError(.invalidConfiguration, "cache: negativeTTL must not be negative") }
            if staleWhileRevalidate < .zero {
                throw FloodgateError(.invalidConfiguration, "cache: staleWhileRevalidate must not be negative")
            }
        }
    }

    /// How other instances' writes reach this near cache.
    public enum InvalidationMode: String, Sendable, Hashable {
        /// Not decided yet (before `run()` has asked the server).
        case pending
        /// Redis server-assisted client-side caching.
        case tracking
        /// Writers publish invalidation messages.
        case publish
        /// No Redis (memory store): the near cache is the only tier.
        case none
    }

    /// Where reads were served from.
    public struct Statistics: Sendable, Hashable {
        public var nearHits = 0
        public var redisHits = 0
        public var loads = 0
        public var negativeHits = 0
        public var staleServed = 0
        /// Redis reads or writes that failed (Redis unreachable): each read counted as a miss, each write skipped.
        public var redisErrors = 0

        /// Near hits over all reads.
        public var nearHitRatio: Double {
            let reads = nearHits + negativeHits + redisHits + loads
            return reads == 0 ? 0 : Double(nearHits + negativeHits) / Double(reads)
        }
    }

    private struct State {
        var near: NearCache
        var inFlight: [String: Task<(any Sendable)?, any Error>] = [:]
        var mode = InvalidationMode.pending
        var statistics = Statistics()
    }

    public let configuration: Configuration
    private let client: RedisClient?
    private let budget: CommandBudget?
    private let clock: FloodgateClock
    private let logger: Logger
    private let state: Mutex<State>
    private let instanceTag = String(UInt64.random(in: 0...UInt64.max), radix: 36)
    private let metricsFactory: any MetricsFactory

    /// - Parameters:
    ///   - store: `.redis(client)` for two tiers, `.memory` for the near cache alone.
    ///   - budget: when it sheds, the cache stays off Redis.
    public init<C: Clock>(
        configuration: Configuration = Configuration(),
        store: FloodgateStore,
        budget: CommandBudget? = nil,
        clock: C = WallClock(),
        logger: Logger = Logger(label: "floodgate.cache"),
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) throws where C.Instant == WallInstant, C: Sendable {
        try configuration.validate()
        self.metricsFactory = metricsFactory
        self.configuration = configuration
        if case .redis(let client) = store { self.client = client } else { self.client = nil }
        self.budget = budget
        self.clock = FloodgateClock(clock)
        self.logger = logger
        var initial = State(near: NearCache(maximumEntries: configuration.maximumEntries, maximumBytes: configuration.maximumBytes))
        if client == nil { initial.mode = .none }
        state = Mutex(initial)
        reportMode(initial.mode)
    }

    /// `floodgate_cache_invalidation_mode{mode=…}`: 1 for the mode in use, 0 for the others.
    private func reportMode(_ mode: InvalidationMode) {
        for candidate in [InvalidationMode.pending, .tracking, .publish, .none] {
            Gauge(label: "floodgate_cache_invalidation_mode", dimensions: [("mode", candidate.rawValue)], factory: metricsFactory)
                .record(candidate == mode ? 1 : 0)
        }
    }

    public var invalidationMode: InvalidationMode { state.withLock { $0.mode } }
    public var statistics: Statistics { state.withLock { $0.statistics } }
    /// Entries and bytes in the near cache.
    public var nearCount: (entries: Int, bytes: Int) { state.withLock { ($0.near.count, $0.near.bytes) } }

    var redisKeyPrefix: String { "\(configuration.keyPrefix):c:" }
    var invalidationChannel: String { "\(configuration.keyPrefix):cache-invalidations" }

    /// Redis to use now: nil in memory mode or while the budget sheds.
    private var redis: RedisClient? {
        guard let client else { return nil }
        if let budget, budget.level >= .nearCacheOnly { return nil }
        return client
    }

    // MARK: Reading

    /// The value for `key`: from the near cache, else Redis, else `loader` (whose result fills both tiers; nil is
    /// remembered as a miss for `negativeTTL`). With Redis unreachable its read is a miss and its write is skipped
    /// (``Statistics/redisErrors``): the call loads from the source rather than fail.
    public func value<Value: Codable & Sendable>(
        for key: String,
        as type: Value.Type = Value.self,
        ttl: Duration,
        loader: @escaping @Sendable () async throws -> Value?
    ) async throws -> Value? {
        let now = clock.now().nanosecondsSince1970
        switch nearLookup(key, at: now) {
        case .fresh(let value):
            return value as? Value
        case .stale(let value):
            refreshInBackground(key, ttl: ttl, loader: loader)
            return value as? Value
        case .miss:
            return try await singleFlight(key) { try await self.load(key, as: type, ttl: ttl, loader: loader) } as? Value
        }
    }

    /// The value for `key` from the near cache or Redis, without loading.
    public func get<Value: Codable & Sendable>(_ key: String, as type: Value.Type = Value.self) async throws -> Value? {
        let now = clock.now().nanosecondsSince1970
        switch nearLookup(key, at: now) {
        case .fresh(let value), .stale(let value):
            return value as? Value
        case .miss:
            return try await singleFlight(key) { try await self.readRedisOrMiss(key, as: type, at: now) } as? Value
        }
    }

    private enum NearAnswer {
        case fresh((any Sendable)?)
        case stale((any Sendable)?)
        case miss
    }

    private func nearLookup(_ key: String, at now: Int64) -> NearAnswer {
        state.withLock { state in
            switch state.near.lookup(key, at: now) {
            case .fresh(let value):
                if value == nil { state.statistics.negativeHits += 1 } else { state.statistics.nearHits += 1 }
                return .fresh(value)
            case .stale(let value):
                state.statistics.staleServed += 1
                return .stale(value)
            case .miss:
                return .miss
            }
        }
    }

    /// Runs `work` once for concurrent callers of the same key.
    private func singleFlight(_ key: String, _ work: @escaping @Sendable () async throws -> (any Sendable)?) async throws -> (any Sendable)? {
        let task = state.withLock { state -> Task<(any Sendable)?, any Error> in
            if let running = state.inFlight[key] { return running }
            let task = Task<(any Sendable)?, any Error> {
                defer { _ = self.state.withLock { $0.inFlight.removeValue(forKey: key) } }
                return try await work()
            }
            state.inFlight[key] = task
            return task
        }
        return try await task.value
    }

    private func refreshInBackground<Value: Codable & Sendable>(
        _ key: String,
        ttl: Duration,
        loader: @escaping @Sendable () async throws -> Value?
    ) {
        let alreadyRunning = state.withLock { $0.inFlight[key] != nil }
        guard !alreadyRunning else { return }
        Task { _ = try? await self.singleFlight(key) { try await self.load(key, as: Value.self, ttl: ttl, loader: loader, skipRedis: true) } }
    }

    /// Redis then the loader; fills the tiers.
    private func load<Value: Codable & Sendable>(
        _ key: String,
        as type: Value.Type,
        ttl: Duration,
        loader: @Sendable () async throws -> Value?,
        skipRedis: Bool = false
    ) async throws -> Value? {
        let now = clock.now().nanosecondsSince1970
        if !skipRedis, let found = try await readRedisOrMiss(key, as: type, at: now) { return found }
        state.withLock { $0.statistics.loads += 1 }
        guard let value = try await loader() else {
            remember(key, value: nil, bytes: key.utf8.count + 64, expiresAt: now + configuration.negativeTTL.nanoseconds, at: now)
            return nil
        }
        let encoded = try JSONEncoder().encode(value)
        remember(key, value: value, bytes: encoded.count + key.utf8.count + 64, expiresAt: now + ttl.nanoseconds, at: now)
        if let redis {
            do {
                try await write(key, encoded, ttl: ttl, at: now, via: redis)
            } catch is RedisClientError {
                // The caller has its value; the fleet's tier just does not get it this time.
                state.withLock { $0.statistics.redisErrors += 1 }
            }
        }
        return value
    }

    /// `readRedis`, with Redis unreachable a miss: the caller loads from the source rather than fail (never a stale
    /// value: nothing is served that Redis did not answer).
    private func readRedisOrMiss<Value: Codable & Sendable>(_ key: String, as type: Value.Type, at now: Int64) async throws -> Value? {
        do {
            return try await readRedis(key, as: type, at: now)
        } catch is RedisClientError {
            state.withLock { $0.statistics.redisErrors += 1 }
            return nil
        }
    }

    /// One `GET`; a found value fills the near cache until the moment it expires in Redis (the value carries its
    /// expiry, so no `PTTL` is needed).
    private func readRedis<Value: Codable & Sendable>(_ key: String, as type: Value.Type, at now: Int64) async throws -> Value? {
        guard let redis else { return nil }
        guard let stored = try await redis.labelled(.cache).get(redisKeyPrefix + key) else { return nil }
        let bytes = Array(stored.readableBytesView)
        guard let bar = bytes.firstIndex(of: UInt8(ascii: "|")),
            let expiresAtMs = Int64(String(decoding: bytes[..<bar], as: UTF8.self))
        else {
            throw FloodgateError(.invalidConfiguration, "cache entry \(key) in Redis is not in Floodgate's format")
        }
        // Redis expires entries on its own clock; an entry past its expiry on ours (skewed clocks) is a miss.
        guard expiresAtMs * 1_000_000 > now else { return nil }
        let json = Data(bytes[(bar + 1)...])
        let value = try JSONDecoder().decode(Value.self, from: json)
        state.withLock { $0.statistics.redisHits += 1 }
        remember(key, value: value, bytes: json.count + key.utf8.count + 64, expiresAt: expiresAtMs * 1_000_000, at: now)
        return value
    }

    /// `SET key "<expiresAtMs>|<json>" PX ttl`.
    private func write(_ key: String, _ encoded: Data, ttl: Duration, at now: Int64, via redis: RedisClient) async throws {
        let expiresAtMs = (now + ttl.nanoseconds) / 1_000_000
        _ = try await redis.labelled(.cache).send(
            RedisCommand(
                "SET",
                redisKeyPrefix + key,
                "\(expiresAtMs)|" + String(decoding: encoded, as: UTF8.self),
                "PX",
                String(max(1, ttl.nanoseconds / 1_000_000))
            )
        )
    }

    private func remember(_ key: String, value: (any Sendable)?, bytes: Int, expiresAt: Int64, at now: Int64) {
        state.withLock {
            $0.near.insert(
                key,
                value: value,
                bytes: bytes,
                expiresAt: expiresAt,
                staleUntil: expiresAt + configuration.staleWhileRevalidate.nanoseconds,
                at: now
            )
        }
    }

    // MARK: Writing

    /// Stores `value` in both tiers: one `SET` (plus one `PUBLISH` in publish mode).
    public func set<Value: Codable & Sendable>(_ key: String, to value: Value, ttl: Duration) async throws {
        let now = clock.now().nanosecondsSince1970
        let encoded = try JSONEncoder().encode(value)
        remember(key, value: value, bytes: encoded.count + key.utf8.count + 64, expiresAt: now + ttl.nanoseconds, at: now)
        guard let redis else { return }
        try await write(key, encoded, ttl: ttl, at: now, via: redis)
        try await publishInvalidation(key, via: redis)
    }

    /// Removes `key` from both tiers: one `DEL` (plus one `PUBLISH` in publish mode).
    public func delete(_ key: String) async throws {
        invalidateNear(key)
        guard let redis else { return }
        _ = try await redis.labelled(.cache).send(RedisCommand("DEL", redisKeyPrefix + key))
        try await publishInvalidation(key, via: redis)
    }

    /// Drops `key` from this instance's near cache only.
    public func invalidateNear(_ key: String) {
        state.withLock { $0.near.remove(key) }
    }

    private func publishInvalidation(_ key: String, via redis: RedisClient) async throws {
        guard invalidationMode == .publish else { return }
        _ = try await redis.labelled(.cache).publish("\(instanceTag) \(key)", to: invalidationChannel)
    }

    // MARK: Invalidation

    /// Chooses the invalidation mode and applies invalidations until shutdown.
    public func run() async throws {
        guard let client else {
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown {
            var useTracking = self.configuration.invalidation == .automatic
            if useTracking {
                // Broadcast mode on the cache's prefix: every write to a cache key by another client invalidates,
                // whether or not this instance read it first (entries filled by our own writes are covered too).
                let status = await client.enableTracking(.broadcast(prefixes: [self.redisKeyPrefix], noLoop: true))
                if case .unavailable(let reason) = status {
                    self.logger.notice("CLIENT TRACKING unavailable: writers publish invalidations instead", metadata: ["reason": "\(reason)"])
                    useTracking = false
                }
            }
            if useTracking {
                self.state.withLock { $0.mode = .tracking }
                self.reportMode(.tracking)
                for await invalidation in client.invalidations() {
                    switch invalidation {
                    case .keys(let keys):
                        self.state.withLock { state in
                            for key in keys where key.hasPrefix(self.redisKeyPrefix) {
                                state.near.remove(String(key.dropFirst(self.redisKeyPrefix.count)))
                            }
                        }
                    case .all:
                        self.state.withLock { $0.near.removeAll() }
                    }
                }
            } else {
                await self.listenForPublishedInvalidations(client)
            }
        }
    }

    private func listenForPublishedInvalidations(_ client: RedisClient) async {
        while !Task.isCancelled {
            do {
                let subscription = try await client.subscribe(to: [invalidationChannel], component: .cache)
                state.withLock { state in
                    state.mode = .publish
                    state.near.removeAll()  // whatever was published before the subscription is unknown
                }
                reportMode(.publish)
                for await event in subscription {
                    switch event {
                    case .message(let message):
                        let text = message.text
                        guard let space = text.firstIndex(of: " "), text[..<space] != instanceTag else { continue }
                        let key = String(text[text.index(after: space)...])
                        state.withLock { $0.near.remove(key) }
                    case .reconnected:
                        state.withLock { $0.near.removeAll() }
                    }
                }
                return
            } catch {
                state.withLock { $0.near.removeAll() }
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }
}
