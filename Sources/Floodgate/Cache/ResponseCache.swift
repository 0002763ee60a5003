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
/// Exact command costs: a near-cache hit costs no command; a miss costs one `GET` only when the key may exist in
/// Redis (``CacheDirectory``: learnt from the invalidation stream, so a key nobody wrote is a miss with no command),
/// and, when the loader runs, one `SET` to fill Redis; a write (`set`, `delete`) costs one command, plus one
/// `PUBLISH` in publish mode. Nothing else: the command budget is a local read. Concurrent misses of one key share
/// one Redis read and one loader run (single-flight), misses are remembered for `negativeTTL`, and with
/// `staleWhileRevalidate` an expired value is served while one background reload runs.
///
/// Other instances' writes reach this instance by the best stream the server allows (``InvalidationMode``):
/// keyspace notifications when the server has them on, `CLIENT TRACKING BCAST` on the cache's prefix otherwise, and
/// on servers with neither, invalidation messages that writers publish. Whenever the stream may have missed
/// something (connection lost, server flush, subscription re-established) the near cache is flushed and the
/// directory knows nothing until a `SCAN` of the prefix has run again. When the ``CommandBudget`` sheds, the cache
/// serves and fills its near tier only.
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
        /// The longest TTL a write may ask for: the directory takes a key written with an unknown TTL to exist for
        /// this long. Writes asking for more throw ``FloodgateError/Code/invalidArgument``.
        public var maximumTTL: Duration
        /// Directory bounds: when full, the directory stops answering "absent" (reads go to Redis) until what it
        /// could not hold has expired.
        public var directoryMaximumEntries: Int
        public var directoryMaximumBytes: Int
        /// Which invalidation stream to use.
        public var invalidation: InvalidationPreference
        /// Turn keyspace notifications on (`CONFIG SET notify-keyspace-events`, adding the classes the cache needs)
        /// when the server has them off. Off by default: the cache never changes the server's configuration unless
        /// told to.
        public var configureKeyspaceNotifications: Bool

        public enum InvalidationPreference: Sendable, Hashable {
            /// Keyspace notifications if the server has them on (or ``configureKeyspaceNotifications``), else
            /// `CLIENT TRACKING`, else publish.
            case automatic
            /// Always publish invalidations (never ask the server for tracking or notifications).
            case publish
        }

        public init(
            keyPrefix: String = "fg",
            maximumEntries: Int = 100_000,
            maximumBytes: Int = 64 << 20,
            negativeTTL: Duration = .seconds(10),
            staleWhileRevalidate: Duration = .zero,
            maximumTTL: Duration = .seconds(86_400),
            directoryMaximumEntries: Int = 1_000_000,
            directoryMaximumBytes: Int = 128 << 20,
            invalidation: InvalidationPreference = .automatic,
            configureKeyspaceNotifications: Bool = false
        ) {
            self.keyPrefix = keyPrefix
            self.maximumEntries = maximumEntries
            self.maximumBytes = maximumBytes
            self.negativeTTL = negativeTTL
            self.staleWhileRevalidate = staleWhileRevalidate
            self.maximumTTL = maximumTTL
            self.directoryMaximumEntries = directoryMaximumEntries
            self.directoryMaximumBytes = directoryMaximumBytes
            self.invalidation = invalidation
            self.configureKeyspaceNotifications = configureKeyspaceNotifications
        }

        /// - Throws: ``FloodgateError`` `.invalidConfiguration` naming the field.
        public func validate() throws {
            _ = try RedisKeySchema(prefix: keyPrefix)
            func positive(_ value: Int, _ name: String) throws {
                if value <= 0 { throw FloodgateError(.invalidConfiguration, "cache: \(name) must be positive") }
            }
            try positive(maximumEntries, "maximumEntries")
            try positive(maximumBytes, "maximumBytes")
            try positive(directoryMaximumEntries, "directoryMaximumEntries")
            try positive(directoryMaximumBytes, "directoryMaximumBytes")
            if negativeTTL < .zero { throw FloodgateError(.invalidConfiguration, "cache: negativeTTL must not be negative") }
            if staleWhileRevalidate < .zero {
                throw FloodgateError(.invalidConfiguration, "cache: staleWhileRevalidate must not be negative")
            }
            if maximumTTL < .milliseconds(1) { throw FloodgateError(.invalidConfiguration, "cache: maximumTTL must be at least 1 ms") }
        }
    }

    /// How other instances' writes reach this near cache and directory.
    public enum InvalidationMode: String, Sendable, Hashable, CaseIterable {
        /// Not decided yet (before `run()` has asked the server).
        case pending
        /// Keyspace notifications (`__keyspace@…__` events): typed events for every write, expiry and eviction.
        case keyspace
        /// Redis server-assisted client-side caching: an untyped invalidation for every write and expiry.
        case tracking
        /// Writers publish invalidation messages (other writers and expiries are not seen).
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
        /// `GET`s sent that found nothing (the directory did not know, or the key had gone).
        public var redisMisses = 0
        /// Near misses the directory answered with no command (the key is not in Redis).
        public var readsSkipped = 0
        /// Redis reads or writes that failed (Redis unreachable): each read counted as a miss, each write skipped.
        public var redisErrors = 0

        /// Near hits over all reads.
        public var nearHitRatio: Double {
            let reads = nearHits + negativeHits + redisHits + loads
            return reads == 0 ? 0 : Double(nearHits + negativeHits) / Double(reads)
        }
    }

    /// What the directory holds and whether it answers "absent" yet.
    public struct DirectoryStatus: Sendable, Hashable {
        public var entries: Int
        public var bytes: Int
        /// `complete`, `scanning`, `waitingForHorizon` or `waitingForStream`.
        public var completeness: String
        /// Keys it could not hold since it was last complete.
        public var overflows: Int
    }

    struct State {
        var near: NearCache
        var directory: CacheDirectory
        var inFlight: [String: Task<(any Sendable)?, any Error>] = [:]
        var mode = InvalidationMode.pending
        /// Keyspace mode: events this instance's own writes will cause, not yet seen (they invalidate nothing).
        var ownEvents: [String: Int] = [:]
        var statistics = Statistics()
    }

    public let configuration: Configuration
    let client: RedisClient?
    let budget: CommandBudget?
    let redisSwitch: RedisSwitch
    let clock: FloodgateClock
    let logger: Logger
    let state: Mutex<State>
    /// Events heard on the invalidation stream: keys invalidated, keyspace events, published invalidations (this
    /// instance's own included).
    let streamEvents = Atomic<Int>(0)
    let instanceTag = String(UInt64.random(in: 0...UInt64.max), radix: 36)
    let metricsFactory: any MetricsFactory

    /// - Parameters:
    ///   - store: `.redis(client)` for two tiers, `.memory` for the near cache alone.
    ///   - budget: when it sheds, the cache stays off Redis.
    ///   - redisSwitch: the kill switch: off, the cache serves and fills its near tier only.
    public init<C: Clock>(
        configuration: Configuration = Configuration(),
        store: FloodgateStore,
        budget: CommandBudget? = nil,
        redisSwitch: RedisSwitch = RedisSwitch(),
        clock: C = WallClock(),
        logger: Logger = Logger(label: "floodgate.cache"),
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) throws where C.Instant == WallInstant, C: Sendable {
        try configuration.validate()
        self.metricsFactory = metricsFactory
        self.configuration = configuration
        if case .redis(let client) = store { self.client = client } else { self.client = nil }
        self.budget = budget
        self.redisSwitch = redisSwitch
        self.clock = FloodgateClock(clock)
        self.logger = logger
        var initial = State(
            near: NearCache(maximumEntries: configuration.maximumEntries, maximumBytes: configuration.maximumBytes),
            directory: CacheDirectory(
                maximumEntries: configuration.directoryMaximumEntries,
                maximumBytes: configuration.directoryMaximumBytes,
                horizon: configuration.maximumTTL
            )
        )
        if client == nil { initial.mode = .none }
        state = Mutex(initial)
        reportMode(initial.mode)
    }

    /// `floodgate_cache_invalidation_mode{mode=…}`: 1 for the mode in use, 0 for the others.
    func reportMode(_ mode: InvalidationMode) {
        for candidate in InvalidationMode.allCases {
            Gauge(label: "floodgate_cache_invalidation_mode", dimensions: [("mode", candidate.rawValue)], factory: metricsFactory)
                .record(candidate == mode ? 1 : 0)
        }
    }

    public var invalidationMode: InvalidationMode { state.withLock { $0.mode } }
    public var statistics: Statistics { state.withLock { $0.statistics } }
    /// Entries and bytes in the near cache.
    public var nearCount: (entries: Int, bytes: Int) { state.withLock { ($0.near.count, $0.near.bytes) } }
    public var directoryStatus: DirectoryStatus {
        state.withLock { state in
            let now = clock.now().nanosecondsSince1970
            return DirectoryStatus(
                entries: state.directory.count,
                bytes: state.directory.bytes,
                completeness: state.directory.completeness(at: now).rawValue,
                overflows: state.directory.overflows
            )
        }
    }


    /// Redis to use now: nil in memory mode, with the kill switch off, or while the budget sheds.
    var redis: RedisClient? {
        guard let client, redisSwitch.isOn else { return nil }
        if let budget, budget.level >= .nearCacheOnly { return nil }
        return client
    }

    // MARK: Reading

    /// The value for `key`: from the near cache, else Redis, else `loader` (whose result fills both tiers; nil is
    /// remembered as a miss for `negativeTTL`). With Redis unreachable its read is a miss and its write is skipped
    /// (``Statistics/redisErrors``): the call loads from the source rather than fail.
    /// - Throws: ``FloodgateError`` `.invalidArgument` for a TTL that is not positive or above `maximumTTL`, or what
    ///   the loader throws.
    public func value<Value: Codable & Sendable>(
        for key: String,
        as type: Value.Type = Value.self,
        ttl: Duration,
        loader: @escaping @Sendable () async throws -> Value?
    ) async throws -> Value? {
        try checkTTL(ttl)
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

    /// One `GET` when the directory says the key may exist; a found value fills the near cache until the moment it
    /// expires in Redis (the value carries its expiry, so no `PTTL` is needed).
    private func readRedis<Value: Codable & Sendable>(_ key: String, as type: Value.Type, at now: Int64) async throws -> Value? {
        guard let redis else { return nil }
        let answer = state.withLock { state -> CacheDirectory.Answer in
            let answer = state.directory.answer(key, at: now)
            if answer == .absent { state.statistics.readsSkipped += 1 }
            return answer
        }
        let version: UInt64?
        switch answer {
        case .absent: return nil
        case .unknown: version = nil
        case .mayExist(let current): version = current
        }
        guard let stored = try await redis.labelled(.cache).get(redisKeyPrefix + key) else {
            state.withLock { state in
                state.statistics.redisMisses += 1
                state.directory.readFoundNothing(key, version: version)
            }
            return nil
        }
        let bytes = Array(stored.readableBytesView)
        guard let bar = bytes.firstIndex(of: UInt8(ascii: "|")),
            let expiresAtMs = Int64(String(decoding: bytes[..<bar], as: UTF8.self))
        else {
            throw FloodgateError(.invalidConfiguration, "cache entry \(key) in Redis is not in Floodgate's format")
        }
        let expiresAt = expiresAtMs * 1_000_000
        state.withLock { $0.directory.readFound(key, expiresAt: expiresAt, version: version) }
        // Redis expires entries on its own clock; an entry past its expiry on ours (skewed clocks) is a miss.
        guard expiresAt > now else {
            state.withLock { $0.statistics.redisMisses += 1 }
            return nil
        }
        let json = Data(bytes[(bar + 1)...])
        let value = try JSONDecoder().decode(Value.self, from: json)
        state.withLock { $0.statistics.redisHits += 1 }
        remember(key, value: value, bytes: json.count + key.utf8.count + 64, expiresAt: expiresAt, at: now)
        return value
    }

    /// `SET key "<expiresAtMs>|<json>" PX ttl` (plus one `PUBLISH` in publish mode). The directory learns of the
    /// write before it is sent: a reader that races it reads Redis rather than miss it.
    private func write(_ key: String, _ encoded: Data, ttl: Duration, at now: Int64, via redis: RedisClient) async throws {
        let expiresAtMs = (now + ttl.nanoseconds) / 1_000_000
        let mode = state.withLock { state -> InvalidationMode in
            state.directory.written(key, expiresAt: expiresAtMs * 1_000_000, at: now)
            // SET with PX: a `set` and an `expire` event.
            if state.mode == .keyspace { state.ownEvents[key, default: 0] += 2 }
            return state.mode
        }
        do {
            _ = try await redis.labelled(.cache).send(
                RedisCommand(
                    "SET",
                    redisKeyPrefix + key,
                    "\(expiresAtMs)|" + String(decoding: encoded, as: UTF8.self),
                    "PX",
                    String(max(1, ttl.nanoseconds / 1_000_000))
                )
            )
        } catch {
            // Whether it landed is unknown: its events, if any, now invalidate this instance's copy too.
            if mode == .keyspace { state.withLock { $0.forgetOwnEvents(key, 2) } }
            throw error
        }
        if mode == .publish {
            _ = try await redis.labelled(.cache).publish(PublishedInvalidation.written(key, expiresAtMs: expiresAtMs).message(from: instanceTag), to: invalidationChannel)
        }
    }

    private func checkTTL(_ ttl: Duration) throws {
        guard ttl <= configuration.maximumTTL else {
            throw FloodgateError(.invalidArgument, "cache: a TTL of \(ttl) is above the cache's maximumTTL (\(configuration.maximumTTL))")
        }
        guard ttl > .zero else { throw FloodgateError(.invalidArgument, "cache: a TTL must be positive") }
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
    /// - Throws: ``FloodgateError`` `.invalidArgument` for a TTL that is not positive or above `maximumTTL`.
    public func set<Value: Codable & Sendable>(_ key: String, to value: Value, ttl: Duration) async throws {
        try checkTTL(ttl)
        let now = clock.now().nanosecondsSince1970
        let encoded = try JSONEncoder().encode(value)
        remember(key, value: value, bytes: encoded.count + key.utf8.count + 64, expiresAt: now + ttl.nanoseconds, at: now)
        guard let redis else { return }
        try await write(key, encoded, ttl: ttl, at: now, via: redis)
    }

    /// Removes `key` from both tiers: one `DEL` (plus one `PUBLISH` in publish mode).
    public func delete(_ key: String) async throws {
        invalidateNear(key)
        guard let redis else { return }
        let mode = state.withLock { state in
            state.directory.removed(key)
            return state.mode
        }
        _ = try await redis.labelled(.cache).send(RedisCommand("DEL", redisKeyPrefix + key))
        if mode == .publish {
            _ = try await redis.labelled(.cache).publish(PublishedInvalidation.removed(key).message(from: instanceTag), to: invalidationChannel)
        }
    }

    /// Drops `key` from this instance's near cache only.
    public func invalidateNear(_ key: String) {
        state.withLock { $0.near.remove(key) }
    }
}
