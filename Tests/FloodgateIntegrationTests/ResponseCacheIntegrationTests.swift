import Floodgate
import FloodgateTesting
import FloodgateLocalRedis
import FloodgateRedis
import FloodgateSimulation
import FloodgateTestSupport
import MetricsTestKit
import Testing

/// The two-tier cache and the command budget on a real Redis: expiry on the cache's clock, the near cache flushed
/// when the stream is lost, Redis down, budget exhaustion and recovery. Each invalidation mode's costs and
/// consistency are in ``CacheInvalidationModesTests``.
@Suite("Response cache and command budget on a real Redis", .serialized, .timeLimit(.minutes(3)))
struct ResponseCacheIntegrationTests {
    struct Reply: Codable, Sendable, Hashable {
        var text: String
    }

    /// Two cache instances, each with its own client, on one private server started with `arguments`.
    static func withTwoCaches(
        arguments: [String] = [],
        clock: ManualClock = ManualClock(),
        _ body: (ResponseCache, ResponseCache, RedisClient) async throws -> Void
    ) async throws {
        let server = try await LocalRedisServer.start(.init(arguments: arguments))
        defer { server.stop() }
        let clients = try (0..<3).map { _ in try RedisClient(configuration: FleetHarness.clientConfiguration(server)) }
        let caches = try (0..<2).map { try ResponseCache(store: .redis(clients[$0]), clock: clock) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for client in clients { group.addTask { try await client.run() } }
            for cache in caches { group.addTask { try await cache.run() } }
            defer { group.cancelAll() }
            try await eventually("both caches chose a mode and know what is in Redis") {
                caches.allSatisfy { $0.invalidationMode != .pending && $0.directoryStatus.completeness == "complete" }
            }
            try await body(caches[0], caches[1], clients[2])
        }
    }

    static func stats(_ observer: RedisClient) async throws -> [String: Int] {
        var stats = try await observer.commandStats()
        stats["info"] = nil
        stats["config|resetstat"] = nil
        return stats
    }

    @Test func aValueReadFromRedisExpiresInTheNearCacheWhenItExpiresInRedis() async throws {
        let clock = ManualClock()
        try await Self.withTwoCaches(clock: clock) { a, b, _ in
            try await a.set("k", to: Reply(text: "v"), ttl: .seconds(10))
            try await eventually("b's directory hears of the write") { b.directoryStatus.entries == 1 }
            clock.advance(by: .seconds(8))
            #expect(try await b.get("k", as: Reply.self) == Reply(text: "v"))
            clock.advance(by: .seconds(2))
            // Still in Redis (its own clock has not moved ten seconds), expired on ours: a miss in both tiers.
            let loaded = try await b.value(for: "k", ttl: .seconds(10)) { Reply(text: "reloaded") }
            #expect(loaded == Reply(text: "reloaded"), "never older than its TTL")
            #expect(b.statistics.redisHits == 1 && b.statistics.loads == 1)
        }
    }

    @Test func anEntryPastItsExpiryOnTheCachesClockIsAMissEvenWhileRedisKeepsIt() async throws {
        let clock = ManualClock()
        try await Self.withTwoCaches(clock: clock) { a, b, _ in
            try await a.set("k", to: Reply(text: "v"), ttl: .seconds(60))
            clock.advance(by: .seconds(61))
            #expect(try await b.get("k", as: Reply.self) == nil)
            #expect(b.statistics.redisHits == 0)
        }
    }

    @Test func theBudgetShedsTheCacheThenCoordinationAndRecoversNextPeriod() async throws {
        let clock = ManualClock()
        let server = try await LocalRedisServer.start()
        defer { server.stop() }
        let client = try RedisClient(configuration: FleetHarness.clientConfiguration(server))
        let observer = try RedisClient(configuration: FleetHarness.clientConfiguration(server))
        let budget = try CommandBudget(configuration: .init(perDay: 2_000, interval: .seconds(60)), client: client, clock: clock)
        let cache = try ResponseCache(store: .redis(client), budget: budget, clock: clock)
        let guards = try Floodgate(configuration: FloodgateConfiguration(), store: .redis(client), clock: clock, budget: budget)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await client.run() }
            group.addTask { try await observer.run() }
            group.addTask { try await guards.run() }
            defer { group.cancelAll() }
            try await eventually("the guards coordinate") { guards.mode == .shared }
            // A first report sets the baseline, then 500 misses in one minute: 1,000 commands a minute projects far
            // beyond 2,000 a day.
            await budget.report()
            #expect(budget.level == .normal)
            for index in 0..<500 { _ = try await cache.value(for: "k\(index)", ttl: .seconds(600)) { Reply(text: "\(index)") } }
            clock.advance(by: .seconds(60))
            await budget.report()
            #expect(budget.level == .nearCacheOnly, "the cache is shed first")
            let before = try await observer.commandStats()
            for index in 500..<600 { _ = try await cache.value(for: "k\(index)", ttl: .seconds(600)) { Reply(text: "\(index)") } }
            let after = try await observer.commandStats()
            #expect(after["get"] == before["get"] && after["set"] == before["set"], "near-cache only: no GET, no SET")
            clock.advance(by: .seconds(60))
            await budget.report()
            #expect(budget.level == .localOnly, "still projected over: coordination is shed too")
            clock.advance(by: .seconds(1))
            try await eventually("the guards stop coordinating") { guards.mode == .degraded }
            #expect(budget.status.usedToday > 1_000)
            // The next day starts afresh.
            clock.advance(by: .seconds(86_400))
            await budget.report()
            #expect(budget.level == .normal)
            clock.advance(by: .seconds(1))
            try await eventually("and coordinate again") { guards.mode == .shared }
        }
    }

    /// Far from its allowance the budget reports at its longest interval; as the projection nears the allowance the
    /// gap shrinks, and once shedding it is back to the shortest.
    @Test func theBudgetReportsLessOftenTheFurtherItIsFromItsAllowance() async throws {
        let clock = ManualClock()
        let server = try await LocalRedisServer.start()
        defer { server.stop() }
        let client = try RedisClient(configuration: FleetHarness.clientConfiguration(server))
        let configuration = CommandBudget.Configuration(perDay: 200_000, interval: .seconds(60), maximumInterval: .seconds(900))
        let budget = try CommandBudget(configuration: configuration, client: client, clock: clock)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await client.run() }
            defer { group.cancelAll() }
            _ = try await client.ping()
            await budget.report()
            #expect(budget.nextReportDelay == .seconds(60), "the fleet's rate is not known yet")
            func minute(of commands: Int) async throws {
                for _ in 0..<commands { _ = try await client.ping() }
                clock.advance(by: .seconds(60))
                await budget.report()
            }
            // 100 a minute projects about 144,000 a day: four times that rate would need hours to use half the rest.
            try await minute(of: 100)
            #expect(budget.level == .normal)
            #expect(budget.nextReportDelay == .seconds(900))
            // 130 a minute projects about 187,000: closer, so sooner than the longest, later than the shortest.
            try await minute(of: 130)
            #expect(budget.level == .normal)
            let nearer = budget.nextReportDelay
            #expect(nearer > .seconds(60) && nearer < .seconds(900), "\(nearer)")
            // 160 a minute projects beyond 200,000: shedding, and reporting every interval.
            try await minute(of: 160)
            #expect(budget.level == .nearCacheOnly)
            #expect(budget.nextReportDelay == .seconds(60))
        }
    }

    /// A long delay between reports never hides a burst: the budget's loop looks at this instance's own accounting
    /// every interval and reports at once when it sends four times its last rate (and 0.5% of the allowance).
    @Test func aLocalBurstIsReportedBeforeTheLongDelayEnds() async throws {
        let clock = ManualClock()
        let server = try await LocalRedisServer.start()
        defer { server.stop() }
        let client = try RedisClient(configuration: FleetHarness.clientConfiguration(server))
        let observer = try RedisClient(configuration: FleetHarness.clientConfiguration(server))
        let configuration = CommandBudget.Configuration(perDay: 200_000, interval: .seconds(60), maximumInterval: .seconds(900))
        let budget = try CommandBudget(configuration: configuration, client: client, clock: clock)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await client.run() }
            group.addTask { try await observer.run() }
            _ = try await client.ping()
            group.addTask { try await budget.run() }
            defer { group.cancelAll() }
            func reports() async throws -> Int { try await observer.commandStats()["incrby", default: 0] }
            // Each report is waited for until the loop sleeps again on the clock, so no advance lands mid-report.
            try await eventually("the first report") { try await reports() == 1 && clock.sleeperCount == 1 }
            // A quiet minute: the rate is known, and far from the allowance the next report is 15 minutes away.
            for _ in 0..<100 { _ = try await client.ping() }
            clock.advance(by: .seconds(60))
            try await eventually("the second report") { try await reports() == 2 && clock.sleeperCount == 1 }
            #expect(budget.nextReportDelay == .seconds(900))
            #expect(!budget.isSurging(at: clock.now.nanosecondsSince1970), "nothing sent since")
            // 2,000 commands in the next minute: twenty times the last rate, 1% of the allowance.
            for _ in 0..<2_000 { _ = try await client.ping() }
            #expect(budget.isSurging(at: clock.now.advanced(by: .seconds(60)).nanosecondsSince1970))
            clock.advance(by: .seconds(60))
            try await eventually("a report a minute after the burst, not 15 minutes") { try await reports() == 3 }
            try await eventually("the burst is counted") { budget.status.usedToday > 2_000 }
        }
    }

    @Test func aBudgetWhoseLongestIntervalIsShorterThanItsIntervalIsRefused() {
        #expect(throws: FloodgateError.self) {
            try CommandBudget.Configuration(perDay: 1_000, interval: .seconds(60), maximumInterval: .seconds(30)).validate()
        }
    }

    /// What the budget sends over a replayed 24 hours that cross a period boundary, counted by the server: what its
    /// status says it costs, to the command.
    @Test(arguments: [
        (CommandBudget.Configuration(perDay: 1_000_000), 1),
        (CommandBudget.Configuration(perDay: 1_000_000, perMonth: 30_000_000), 2),
    ] as [(CommandBudget.Configuration, Int)])
    func theBudgetsOwnCommandsOverAReplayedDayAreWhatItsStatusSays(configuration: CommandBudget.Configuration, allowances: Int) async throws {
        // Noon, twelve hours before a 30-day period ends (a day boundary too): the day crosses both.
        let monthEnd: Int64 = 30 * 86_400 * 700
        let clock = ManualClock(start: WallInstant(nanosecondsSince1970: (monthEnd - 43_200) * 1_000_000_000))
        let server = try await LocalRedisServer.start()
        defer { server.stop() }
        let client = try RedisClient(configuration: FleetHarness.clientConfiguration(server))
        let observer = try RedisClient(configuration: FleetHarness.clientConfiguration(server))
        let budget = try CommandBudget(configuration: configuration, client: client, clock: clock)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await client.run() }
            group.addTask { try await observer.run() }
            defer { group.cancelAll() }
            _ = try await client.ping()
            try await observer.configResetStat()
            let before = client.accounting.snapshot()
            for _ in 0..<1_440 {
                await budget.report()
                clock.advance(by: .seconds(60))
            }
            let stats = try await observer.commandStats()
            let sent = client.accounting.snapshot().subtracting(before)
            #expect(stats["incrby"] == 1_440 * allowances, "one INCRBY per allowance a minute")
            #expect(stats["expire"] == 2 * allowances, "an EXPIRE on each period key created: \(stats)")
            #expect(sent.count(component: .budget) == stats["incrby", default: 0] + stats["expire", default: 0])
            #expect(sent.total == sent.count(component: .budget), "the budget sent all of it")
            #expect(budget.status.ownCommandsPerDay == sent.count(component: .budget))
        }
    }

    /// One cache on its own client and private server; the cache's invalidation stream runs when `listening`.
    static func withOneCache(
        listening: Bool = true,
        _ body: (LocalRedisServer, RedisClient, ResponseCache) async throws -> Void
    ) async throws {
        let server = try await LocalRedisServer.start()
        defer { server.stop() }
        let client = try RedisClient(configuration: FleetHarness.clientConfiguration(server))
        let cache = try ResponseCache(store: .redis(client))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await client.run() }
            if listening { group.addTask { try await cache.run() } }
            defer { group.cancelAll() }
            try await body(server, client, cache)
        }
    }

    @Test func theNearCacheIsFlushedWhenTheInvalidationStreamIsLost() async throws {
        try await Self.withOneCache { server, _, cache in
            try await eventually("tracking is on") { cache.invalidationMode == .tracking }
            for index in 0..<10 { _ = try await cache.value(for: "k\(index)", ttl: .seconds(600)) { Reply(text: "\(index)") } }
            #expect(cache.nearCount.entries == 10)
            // Invalidations sent while the connection is down are lost: the near cache must not outlive that.
            server.kill()
            try await eventually("the near cache is flushed") { cache.nearCount.entries == 0 }
            try await server.restart()
        }
    }

    /// With Redis unreachable the cache is a near cache in front of the loader: a miss loads from the source instead
    /// of failing the call, a read without loader is a miss, and the failed Redis reads and writes are counted.
    @Test func withRedisDownAMissLoadsFromTheSourceInsteadOfFailing() async throws {
        try await Self.withOneCache(listening: false) { server, client, cache in
            _ = try await client.ping()
            server.kill()
            try await eventually("the client notices") { !client.isConnected }
            #expect(try await cache.value(for: "k", ttl: .seconds(60)) { Reply(text: "from the source") } == Reply(text: "from the source"))
            #expect(try await cache.get("other", as: Reply.self) == nil, "a read without a loader is a miss")
            #expect(try await cache.value(for: "k", ttl: .seconds(60)) { Reply(text: "not again") } == Reply(text: "from the source"), "kept near")
            let statistics = cache.statistics
            #expect(statistics.loads == 1 && statistics.nearHits == 1)
            #expect(statistics.redisErrors == 3, "the two reads and the write that could not reach Redis")
        }
    }

    /// In publish mode invalidations ride pub/sub: what was published while the subscription was down is lost, so
    /// the near cache is flushed when the subscription comes back, and a write made meanwhile is read afresh.
    @Test func inPublishModeTheNearCacheIsFlushedWhenTheSubscriptionReconnects() async throws {
        let server = try await LocalRedisServer.start(.init(arguments: ["--rename-command", "CLIENT", ""]))
        defer { server.stop() }
        let proxy = try await FaultProxy.start(to: server.host, port: server.port)
        defer { Task { await proxy.stop() } }
        var configuration = FleetHarness.clientConfiguration(server)
        configuration.port = proxy.port
        let client = try RedisClient(configuration: configuration)
        let writer = try RedisClient(configuration: FleetHarness.clientConfiguration(server))
        let cache = try ResponseCache(store: .redis(client))
        let other = try ResponseCache(store: .redis(writer))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for running in [client, writer] { group.addTask { try await running.run() } }
            for running in [cache, other] { group.addTask { try await running.run() } }
            defer { group.cancelAll() }
            try await eventually("both caches publish") { cache.invalidationMode == .publish && other.invalidationMode == .publish }
            for index in 0..<10 { _ = try await cache.value(for: "k\(index)", ttl: .seconds(600)) { Reply(text: "old") } }
            #expect(cache.nearCount.entries == 10)
            proxy.set(.refuse)
            try await eventually("the cache's client loses Redis") { !client.isConnected }
            // Written while the cache cannot hear: its invalidation is published to nobody.
            try await other.set("k0", to: Reply(text: "new"), ttl: .seconds(600))
            proxy.set(.pass)
            try await eventually("the near cache is flushed on reconnection") { cache.nearCount.entries == 0 }
            try await eventually("the shared connection is back") { client.isConnected }
            #expect(try await cache.value(for: "k0", ttl: .seconds(600)) { Reply(text: "loader") } == Reply(text: "new"))
        }
    }

    /// The budget's shared counter answers with the fleet's usage, so each instance knows the fleet's commands a
    /// minute without a command of its own beyond its report.
    @Test func theBudgetKnowsTheFleetsCommandsPerMinute() async throws {
        let clock = ManualClock()
        let server = try await LocalRedisServer.start()
        defer { server.stop() }
        let clients = try (0..<2).map { _ in try RedisClient(configuration: FleetHarness.clientConfiguration(server)) }
        let budgets = try clients.map { try CommandBudget(configuration: .init(perDay: 1_000_000), client: $0, clock: clock) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for client in clients { group.addTask { try await client.run() } }
            defer { group.cancelAll() }
            for budget in budgets { await budget.report() }
            #expect(budgets[0].status.fleetCommandsPerMinute == nil, "one report: no rate yet")
            for index in 0..<30 { try await clients[0].labelled(.cache).set("a\(index)", to: "v") }
            for index in 0..<50 { try await clients[1].labelled(.cache).set("b\(index)", to: "v") }
            clock.advance(by: .seconds(60))
            await budgets[0].report()
            await budgets[1].report()
            // Between budget 1's two reports the fleet counted: its own 50 plus its previous report's INCRBY, plus
            // budget 0's 30 and its two INCRBYs (the first EXPIRE included).
            let rate = try #require(budgets[1].status.fleetCommandsPerMinute)
            #expect(rate >= 80 && rate <= 90, "\(rate)")
        }
    }

    @Test func theBudgetReportsItsLevelAsAMetricAndStepsDownWhenTheProjectionFalls() async throws {
        let clock = ManualClock()
        let metrics = TestMetrics()
        let server = try await LocalRedisServer.start()
        defer { server.stop() }
        let client = try RedisClient(configuration: FleetHarness.clientConfiguration(server))
        let budget = try CommandBudget(
            configuration: .init(perDay: 100_000, interval: .seconds(60)),
            client: client,
            clock: clock,
            metricsFactory: metrics
        )
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await client.run() }
            defer { group.cancelAll() }
            await budget.report()
            // 200 commands in one minute project to 288,000 a day: over 100,000.
            for index in 0..<200 { try await client.labelled(.cache).set("k\(index)", to: "v") }
            clock.advance(by: .seconds(60))
            await budget.report()
            #expect(budget.level == .nearCacheOnly)
            let gauge = try metrics.expectGauge("floodgate_budget_level")
            #expect(gauge.lastValue == 1)
            // A quiet hour: the projection falls under 90% of the allowance and the level steps down.
            clock.advance(by: .seconds(3_600))
            await budget.report()
            #expect(budget.level == .normal)
            #expect(gauge.lastValue == 0)
        }
    }
}
