import Floodgate
import FloodgateLocalRedis
import FloodgateRedis
import Testing
@testable import FloodgateSimulation

/// The baselines' arithmetic, command by command on a real Redis: what each kind of call costs in the `naive` and
/// `ttl` designs, from INFO commandstats.
@Suite("Incident baselines on a real Redis", .serialized, .timeLimit(.minutes(3)))
struct IncidentDesignTests {
    static let second: Int64 = 1_000_000_000

    /// One baseline instance on a private server, and an observer connection for INFO.
    static func withInstance(_ kind: IncidentInstance.Kind, _ body: (IncidentInstance, RedisClient) async throws -> Void) async throws {
        let server = try await LocalRedisServer.start()
        defer { server.stop() }
        let clients = try (0..<2).map { _ in try RedisClient(configuration: FleetHarness.clientConfiguration(server)) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for client in clients { group.addTask { try await client.run() } }
            defer { group.cancelAll() }
            // Both connected (handshakes done) before any test resets the statistics.
            for client in clients { _ = try await client.ping() }
            try await body(IncidentInstance(kind: kind, redis: clients[0], breakerKeys: .init()), clients[1])
        }
    }

    /// Commands since the last reset (the observer's own INFO and CONFIG left out), then a reset.
    static func take(_ observer: RedisClient) async throws -> [String: Int] {
        var stats = try await observer.commandStats()
        stats["info"] = nil
        stats["config|resetstat"] = nil
        try await observer.configResetStat()
        return stats
    }

    static func call(tenant: Int, object: Int, at seconds: Int64, integration: Int = 0) -> SimulatedCall {
        SimulatedCall(time: seconds * second, instance: 0, tenant: tenant, integration: integration, object: object, failsAtRandom: false)
    }

    @Test func naiveCostsTwoGETsPerCacheReadAndTwoReadsPerUpstreamCall() async throws {
        try await Self.withInstance(.naive) { naive, observer in
            let workload = Workload()
            try await observer.configResetStat()
            // A miss: quota GET, cache GET; rate-limit GET, breaker GET; INCRBY of the window (+ PEXPIRE: new
            // window), INCRBY of the quota; the response SET.
            var outcome = try await naive.call(Self.call(tenant: 1, object: 1, at: 100), at: 100 * Self.second, workload: workload) { _ in .success }
            #expect(outcome == .upstream(.success))
            #expect(try await Self.take(observer) == ["get": 4, "incrby": 2, "pexpire": 1, "set": 1])
            // A hit: quota GET, cache GET, nothing else.
            outcome = try await naive.call(Self.call(tenant: 1, object: 1, at: 101), at: 101 * Self.second, workload: workload) { _ in .success }
            #expect(outcome == .servedFromCache(redis: true))
            #expect(try await Self.take(observer) == ["get": 2])
            // Another miss in the same window: no PEXPIRE.
            outcome = try await naive.call(Self.call(tenant: 1, object: 2, at: 102), at: 102 * Self.second, workload: workload) { _ in .success }
            #expect(try await Self.take(observer) == ["get": 4, "incrby": 2, "set": 1])
            // A failure: no response SET; the integration's failure counter (+ PEXPIRE: new minute).
            outcome = try await naive.call(Self.call(tenant: 1, object: 3, at: 103), at: 103 * Self.second, workload: workload) { _ in .failure }
            #expect(outcome == .upstream(.failure))
            #expect(try await Self.take(observer) == ["get": 4, "incrby": 3, "pexpire": 1])
        }
    }

    @Test func naiveOpensItsBreakerAfterTenFailuresAndEveryCallThenReadsIt() async throws {
        try await Self.withInstance(.naive) { naive, observer in
            let workload = Workload()
            for object in 0..<10 {
                _ = try await naive.call(Self.call(tenant: 2, object: object, at: 200), at: 200 * Self.second, workload: workload) { _ in .failure }
            }
            #expect(naive.refusesBreaker(of: "slack", at: 200 * Self.second))
            #expect(!naive.refusesBreaker(of: "slack", at: 230 * Self.second), "open for 30 s")
            try await observer.configResetStat()
            // Refused by the breaker: quota GET, cache GET, rate-limit GET, breaker GET, nothing else.
            let outcome = try await naive.call(Self.call(tenant: 3, object: 0, at: 201), at: 201 * Self.second, workload: workload) { _ in .success }
            #expect(outcome == .refused(.breakerOpen))
            #expect(try await Self.take(observer) == ["get": 4])
            #expect(!naive.holdsBack("slack", tenant: "t3", at: 201 * Self.second), "the baselines have no back-off")
        }
    }

    @Test func naiveRefusesAtTheLimitAfterOneRateLimitRead() async throws {
        try await Self.withInstance(.naive) { naive, observer in
            let workload = Workload()
            // slack: 50 per fixed minute.
            for object in 0..<50 {
                let outcome = try await naive.call(Self.call(tenant: 4, object: object, at: 300), at: 300 * Self.second, workload: workload) { _ in .success }
                #expect(outcome == .upstream(.success))
            }
            try await observer.configResetStat()
            let outcome = try await naive.call(Self.call(tenant: 4, object: 99, at: 301), at: 301 * Self.second, workload: workload) { _ in .success }
            #expect(outcome == .refused(.rateLimited))
            #expect(try await Self.take(observer) == ["get": 3], "quota, cache, rate limit")
        }
    }

    @Test func ttlReadsRateLimitAndBreakerStateOncePerTTL() async throws {
        try await Self.withInstance(.ttl) { ttl, observer in
            let workload = Workload()
            try await observer.configResetStat()
            _ = try await ttl.call(Self.call(tenant: 5, object: 1, at: 400), at: 400 * Self.second, workload: workload) { _ in .success }
            #expect(try await Self.take(observer) == ["get": 4, "incrby": 2, "pexpire": 1, "set": 1])
            // Within 5 s: the rate-limit and breaker reads come from the local copies.
            _ = try await ttl.call(Self.call(tenant: 5, object: 2, at: 404), at: 404 * Self.second, workload: workload) { _ in .success }
            #expect(try await Self.take(observer) == ["get": 2, "incrby": 2, "set": 1])
            // After 5 s the rate-limit state is read again; the breaker's copy lasts 10 s.
            _ = try await ttl.call(Self.call(tenant: 5, object: 3, at: 406), at: 406 * Self.second, workload: workload) { _ in .success }
            #expect(try await Self.take(observer) == ["get": 3, "incrby": 2, "set": 1])
        }
    }
}
