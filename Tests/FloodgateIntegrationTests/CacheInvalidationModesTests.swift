import Floodgate
import FloodgateLocalRedis
import FloodgateRedis
import FloodgateSimulation
import FloodgateTestSupport
import Testing

/// The response cache on each kind of Redis service — `CLIENT TRACKING` (plain), keyspace notifications with
/// `CLIENT` renamed away, and neither (writers publish) — each on a real private server: what every operation costs
/// by `INFO commandstats`, that the directory makes a miss of an unwritten key free, and that no read is ever stale.
@Suite("Response cache on each kind of Redis service", .serialized, .timeLimit(.minutes(3)))
struct CacheInvalidationModesTests {
    struct Reply: Codable, Sendable, Hashable {
        var text: String
    }

    static let kinds = RedisServerKind.allCases

    static func expectedMode(_ kind: RedisServerKind) -> ResponseCache.InvalidationMode {
        switch kind {
        case .plain: .tracking
        case .noTracking: .publish
        case .keyspace: .keyspace
        }
    }

    /// Two caches (a, b) on their own clients, b's through a fault proxy, and an observer client, on one private
    /// server of `kind`; returns once both caches use the kind's mode and their directories are complete.
    static func withTwoCaches(
        _ kind: RedisServerKind,
        configuration: ResponseCache.Configuration = .init(),
        clock: WallClock = WallClock(),
        _ body: (_ a: ResponseCache, _ b: ResponseCache, _ observer: RedisClient, _ proxy: FaultProxy, _ server: LocalRedisServer) async throws -> Void
    ) async throws {
        let server = try await LocalRedisServer.start(.init(arguments: kind.serverArguments))
        defer { server.stop() }
        let proxy = try await FaultProxy.start(to: server.host, port: server.port)
        defer { Task { await proxy.stop() } }
        var proxied = FleetHarness.clientConfiguration(server)
        proxied.port = proxy.port
        let clients = try [
            RedisClient(configuration: FleetHarness.clientConfiguration(server)),
            RedisClient(configuration: proxied),
            RedisClient(configuration: FleetHarness.clientConfiguration(server)),
        ]
        let caches = try clients.prefix(2).map { try ResponseCache(configuration: configuration, store: .redis($0), clock: clock) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for client in clients { group.addTask { try await client.run() } }
            for cache in caches { group.addTask { try await cache.run() } }
            defer { group.cancelAll() }
            try await eventually("both caches use \(expectedMode(kind)) with a complete directory") {
                caches.allSatisfy { $0.invalidationMode == expectedMode(kind) && $0.directoryStatus.completeness == "complete" }
            }
            try await body(caches[0], caches[1], clients[2], proxy, server)
        }
    }

    static func stats(_ observer: RedisClient) async throws -> [String: Int] {
        var stats = try await observer.commandStats()
        stats["info"] = nil
        stats["config|resetstat"] = nil
        return stats
    }

    /// `cost` plus one `PUBLISH` in publish mode.
    static func withPublish(_ kind: RedisServerKind, _ cost: [String: Int]) -> [String: Int] {
        kind == .noTracking ? cost.merging(["publish": 1], uniquingKeysWith: +) : cost
    }

    @Test(arguments: kinds)
    func eachOperationCostsExactlyItsCommands(kind: RedisServerKind) async throws {
        try await Self.withTwoCaches(kind) { a, b, observer, _, _ in
            try await observer.configResetStat()
            // A miss of a key nobody wrote: no GET, then the loader's value fills Redis with one SET.
            _ = try await a.value(for: "k1", ttl: .seconds(60)) { Reply(text: "one") }
            #expect(try await Self.stats(observer) == Self.withPublish(kind, ["set": 1]), "miss then fill")
            try await observer.configResetStat()
            for _ in 0..<1_000 { _ = try await a.value(for: "k1", ttl: .seconds(60)) { Reply(text: "never") } }
            #expect(try await Self.stats(observer) == [:], "1,000 near hits, no command")
            #expect(try await b.get("unwritten", as: Reply.self) == nil)
            #expect(try await Self.stats(observer) == [:], "a read of a key nobody wrote, no command")
            #expect(try await b.value(for: "empty", ttl: .seconds(60)) { nil as Reply? } == nil)
            #expect(try await b.value(for: "empty", ttl: .seconds(60)) { Reply(text: "not yet") } == nil, "remembered")
            #expect(try await Self.stats(observer) == [:], "a negative entry, filled and hit, no command")
            // b hears of a's fill, so a's value is one GET away.
            try await eventually("b's directory holds k1") { b.directoryStatus.entries >= 1 }
            #expect(try await b.value(for: "k1", ttl: .seconds(60)) { Reply(text: "loaded by b") } == Reply(text: "one"))
            #expect(try await Self.stats(observer) == ["get": 1], "a Redis hit")
            try await observer.configResetStat()
            try await a.set("k2", to: Reply(text: "two"), ttl: .seconds(60))
            #expect(try await Self.stats(observer) == Self.withPublish(kind, ["set": 1]), "a write")
            try await observer.configResetStat()
            try await a.delete("k2")
            #expect(try await Self.stats(observer) == Self.withPublish(kind, ["del": 1]), "a delete")
            #expect(a.statistics.nearHits == 1_000 && a.statistics.loads == 1)
            #expect(b.statistics.redisHits == 1 && b.statistics.readsSkipped == 2 && b.statistics.redisMisses == 0)
        }
    }

    /// A write on a, then a read on b once b has heard of it, returns the new value; a delete likewise; and after b
    /// loses its connections (a gap in its stream) while a writes, b never serves what it held before, and finds
    /// what was written meanwhile, even a key it never heard of.
    @Test(arguments: kinds)
    func neverStaleAcrossWritesDeletesAndAReconnect(kind: RedisServerKind) async throws {
        try await Self.withTwoCaches(kind) { a, b, _, proxy, _ in
            _ = try await a.value(for: "k", ttl: .seconds(600)) { Reply(text: "old") }
            try await eventually("b's directory holds k") { b.directoryStatus.entries >= 1 }
            #expect(try await b.get("k", as: Reply.self) == Reply(text: "old"), "from Redis, then near")
            try await a.set("k", to: Reply(text: "new"), ttl: .seconds(600))
            try await eventually("b hears of the write") { try await b.get("k", as: Reply.self) == Reply(text: "new") }
            try await a.delete("k")
            try await eventually("b hears of the delete") { try await b.get("k", as: Reply.self) == nil }
            try await a.set("k", to: Reply(text: "before the gap"), ttl: .seconds(600))
            try await eventually("b reads it") { try await b.get("k", as: Reply.self) == Reply(text: "before the gap") }

            proxy.set(.refuse)
            try await eventually("b's directory knows nothing") { b.directoryStatus.completeness != "complete" && b.nearCount.entries == 0 }
            try await a.set("k", to: Reply(text: "during the gap"), ttl: .seconds(600))
            try await a.set("fresh", to: Reply(text: "written during the gap"), ttl: .seconds(600))
            proxy.set(.pass)
            try await eventually("b's stream is back and its directory complete") { b.directoryStatus.completeness == "complete" }
            #expect(try await b.get("k", as: Reply.self) == Reply(text: "during the gap"), "never the value from before the gap")
            #expect(try await b.get("fresh", as: Reply.self) == Reply(text: "written during the gap"), "found by the scan")
        }
    }

    /// A full directory degrades to reading Redis, never to a wrong answer.
    @Test(arguments: kinds)
    func aFullDirectoryReadsRedisInsteadOfAnsweringAbsent(kind: RedisServerKind) async throws {
        try await Self.withTwoCaches(kind, configuration: .init(directoryMaximumEntries: 5)) { a, b, observer, _, _ in
            for index in 0..<12 { try await a.set("k\(index)", to: Reply(text: "\(index)"), ttl: .seconds(600)) }
            try await eventually("b's directory overflows") { b.directoryStatus.completeness == "waitingForHorizon" }
            let status = b.directoryStatus
            #expect(status.entries <= 5 && status.overflows > 0)
            try await observer.configResetStat()
            for index in 0..<12 { #expect(try await b.get("k\(index)", as: Reply.self) == Reply(text: "\(index)")) }
            #expect(try await b.get("never written", as: Reply.self) == nil)
            let stats = try await Self.stats(observer)
            #expect(stats == ["get": 13], "every read goes to Redis: \(stats)")
        }
    }

    /// Redis expires a key in real time: with keyspace notifications the directory hears of it and the next read
    /// costs nothing; with tracking the invalidation does not say it was an expiry, so one GET finds nothing, and
    /// the read after that costs nothing; with published invalidations the writer said when it expires.
    @Test(arguments: kinds)
    func aKeyExpiredByRedisCostsAtMostOneRead(kind: RedisServerKind) async throws {
        try await Self.withTwoCaches(kind) { a, b, observer, _, _ in
            try await a.set("short", to: Reply(text: "v"), ttl: .milliseconds(300))
            try await eventually("b's directory holds it") { b.directoryStatus.entries >= 1 }
            try await eventually("Redis has expired it") { try await observer.exists("fg:c:short") == 0 }
            if kind == .keyspace {
                try await eventually("b hears of the expiry") { b.directoryStatus.entries == 0 }
            }
            // A later write that b hears of: its stream delivers in order, so whatever the expiry sent b has
            // arrived too (a late invalidation would otherwise mark the key changed again between the two reads).
            try await a.set("barrier", to: Reply(text: "b"), ttl: .seconds(600))
            try await eventually("b hears of a later write") { try await b.get("barrier", as: Reply.self) != nil }
            try await observer.configResetStat()
            #expect(try await b.get("short", as: Reply.self) == nil)
            #expect(try await b.get("short", as: Reply.self) == nil)
            let expected = kind == .plain ? ["get": 1] : [:]
            let stats = try await Self.stats(observer)
            #expect(stats == expected, "\(stats)")
        }
    }

    /// Only when told to does the cache change the server: with `configureKeyspaceNotifications` on a plain server
    /// it adds the classes it needs and uses them; without, it leaves `notify-keyspace-events` as it was.
    @Test func keyspaceNotificationsAreTurnedOnOnlyWhenConfigured() async throws {
        for configure in [false, true] {
            let server = try await LocalRedisServer.start(.init(arguments: ["--notify-keyspace-events", "Ex"]))
            defer { server.stop() }
            let client = try RedisClient(configuration: FleetHarness.clientConfiguration(server))
            let cache = try ResponseCache(configuration: .init(configureKeyspaceNotifications: configure), store: .redis(client))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await client.run() }
                group.addTask { try await cache.run() }
                defer { group.cancelAll() }
                try await eventually("the cache chose") { cache.invalidationMode != .pending }
                let flags = try await client.configGet("notify-keyspace-events")["notify-keyspace-events"] ?? ""
                if configure {
                    #expect(cache.invalidationMode == .keyspace)
                    let has = "K$gxe".allSatisfy { flags.contains($0) || ($0 != "K" && flags.contains("A")) }
                    #expect(has && flags.contains("E"), "added to, not replaced: \(flags)")
                } else {
                    #expect(cache.invalidationMode == .tracking)
                    #expect(Set(flags) == Set("xE"), "left alone: \(flags)")
                }
            }
        }
    }

    /// Switched off, the cache sends nothing, not even its stream's set-up: reads and fills stay near; switched
    /// on, the stream comes up and the directory is complete (not waiting for the longest TTL).
    @Test func switchedOffTheCacheSendsNothingAndItsDirectoryCompletesOnceOn() async throws {
        let server = try await LocalRedisServer.start()
        defer { server.stop() }
        let client = try RedisClient(configuration: FleetHarness.clientConfiguration(server))
        let redisSwitch = RedisSwitch(on: false)
        let cache = try ResponseCache(store: .redis(client), redisSwitch: redisSwitch)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await client.run() }
            group.addTask { try await cache.run() }
            defer { group.cancelAll() }
            _ = try await client.ping()
            #expect(try await cache.value(for: "k", ttl: .seconds(60)) { Reply(text: "loaded") } == Reply(text: "loaded"))
            #expect(try await cache.get("k", as: Reply.self) == Reply(text: "loaded"), "kept near")
            #expect(cache.invalidationMode == .pending)
            #expect(client.accounting.snapshot().count(component: .cache) == 0, "not one command while off")
            redisSwitch.set(on: true)
            try await eventually("the stream is up and the directory complete") {
                cache.invalidationMode == .tracking && cache.directoryStatus.completeness == "complete"
            }
        }
    }
}
