import Benchmark
import Floodgate
import Synchronization

/// A clock that moves 1 µs each time it is read: time passes between decisions without a clock call of the
/// benchmark's own. It never sleeps: the benchmark's Floodgate is not run.
final class SteppingClock: Clock, Sendable {
    private let ticks = Atomic<Int64>(0)
    let start = WallInstant(nanosecondsSince1970: 1_767_225_600_000_000_000)

    var now: WallInstant {
        start.advanced(by: .nanoseconds(ticks.add(500, ordering: .relaxed).newValue))
    }

    var minimumResolution: Duration { .nanoseconds(1) }

    func sleep(until deadline: WallInstant, tolerance: Duration?) async throws {
        try await Task.sleep(for: now.duration(to: deadline))
    }
}

/// One guarded decision (acquire + record) while the instance holds capacity: the hot path of every call.
///
/// The keys use HubSpot's profile (a rolling 10 s window and a daily window on the tenant connection) with limits
/// high enough never to bind, so every decision is taken on the instance's share, as in shared mode between grants.
/// The clock moves 0.5 µs per read (1 µs per decision), so window bookkeeping is exercised too.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal, .instructions],
        scalingFactor: .kilo,
        maxDuration: .seconds(5),
        maxIterations: 100
    )

    for count in [10_000, 1_000_000] {
        let keys = (0..<count).map { try! GuardKey(integration: "hubspot", tenant: "tenant-\($0)") }
        let clock = SteppingClock()
        let floodgate = try! Floodgate(
            configuration: FloodgateConfiguration(
                profiles: ["hubspot": .hubSpot(perTenSeconds: 1_000_000_000, perDay: 1_000_000_000)]
            ),
            store: .memory,
            clock: clock
        )
        Benchmark(
            "Decision (acquire + record), \(count) keys",
            configuration: .init(
                scalingFactor: .kilo,
                setup: {
                    for key in keys { floodgate.record(try await floodgate.acquire(key), .success) }
                }
            )
        ) { benchmark in
            var index = 0
            for _ in benchmark.scaledIterations {
                index = (index &+ 7_919) % keys.count
                let permit = try await floodgate.acquire(keys[index])
                floodgate.record(permit, .success)
            }
        }
        // The same decision through the synchronous fail-fast API: no async frame.
        Benchmark("Decision (tryAcquire + record), \(count) keys", configuration: .init(scalingFactor: .kilo)) { benchmark in
            var index = 0
            for _ in benchmark.scaledIterations {
                index = (index &+ 7_919) % keys.count
                floodgate.record(try floodgate.tryAcquire(keys[index])!, .success)
            }
        }
    }

    // An operation key (Slack, tier 3 method): two scopes per decision, the connection's and the method's.
    let slackKeys = (0..<10_000).map {
        try! GuardKey(integration: "slack", tenant: "T\($0)", operation: "conversations.history")
    }
    let slack = try! Floodgate(
        configuration: FloodgateConfiguration(
            profiles: ["slack": .slack(tiers: ["conversations.history": .tier4], defaultTier: .tier4)]
        ),
        store: .memory,
        clock: SteppingClock()
    )
    Benchmark(
        "Decision (acquire + record), 10000 operation keys",
        configuration: .init(scalingFactor: .kilo, setup: { for key in slackKeys { slack.record(try await slack.acquire(key), .success) } })
    ) { benchmark in
        var index = 0
        for _ in benchmark.scaledIterations {
            index = (index &+ 7_919) % slackKeys.count
            // 100 per minute per method: spread over 10,000 keys the limit never binds within a run.
            if let permit = try? await slack.acquire(slackKeys[index]) { slack.record(permit, .success) }
        }
    }

    // A near-cache hit of the response cache: a 200-byte reply among 10,000 entries.
    struct Reply: Codable, Sendable {
        var text: String
    }
    let cache = try! ResponseCache(store: .memory, clock: SteppingClock())
    let cacheKeys = (0..<10_000).map { "object-\($0)" }
    Benchmark(
        "Near-cache hit (value(for:ttl:loader:)), 10000 entries",
        configuration: .init(
            scalingFactor: .kilo,
            setup: {
                for key in cacheKeys {
                    _ = try await cache.value(for: key, ttl: .seconds(86_400)) { Reply(text: String(repeating: "x", count: 200)) }
                }
            }
        )
    ) { benchmark in
        var index = 0
        for _ in benchmark.scaledIterations {
            index = (index &+ 7_919) % cacheKeys.count
            blackHole(try await cache.value(for: cacheKeys[index], ttl: .seconds(86_400)) { nil as Reply? })
        }
    }
}
