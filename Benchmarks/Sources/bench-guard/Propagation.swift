import Floodgate
import FloodgateLocalRedis
import FloodgateRedis

/// How long a breaker opened by one instance, and a provider throttle seen by one instance, take to reach another,
/// on the wall clock, through a private redis-server (or `url`).
enum Propagation {
    static func measure(rounds: Int, url: String?) async throws {
        let server = url == nil ? try await LocalRedisServer.start() : nil
        defer { server?.stop() }
        let configuration = try RedisClientConfiguration(url: url ?? server!.url)
        let breaker = BreakerPolicy(minimumCalls: 3, openDuration: .seconds(3_600))
        let clients = try (0..<2).map { _ in try RedisClient(configuration: configuration) }
        let gates = try (0..<2).map { index in
            try Floodgate(
                configuration: FloodgateConfiguration(instanceID: "bench-\(index)", defaultBreaker: breaker, fleetSize: 2),
                store: .redis(clients[index])
            )
        }
        try await withThrowingDiscardingTaskGroup { group in
            for client in clients { group.addTask { try await client.run() } }
            for gate in gates { group.addTask { try await gate.run() } }
            while gates.contains(where: { $0.mode != .shared }) { try await Task.sleep(for: .milliseconds(5)) }
            try await Task.sleep(for: .milliseconds(200))  // both subscribed
            var breakerTimes: [Duration] = []
            var throttleTimes: [Duration] = []
            let clock = ContinuousClock()
            for round in 0..<rounds {
                let integration = "api\(round)"
                let key = try GuardKey(integration: integration, tenant: "t")
                let started = clock.now
                for _ in 0..<3 { gates[0].record(try await gates[0].acquire(key), .failure) }
                while gates[1].breakerState(of: integration) == .closed { await Task.yield() }
                breakerTimes.append(started.duration(to: clock.now))

                let throttled = try GuardKey(integration: "slack", tenant: "T\(round)")
                let permit = try await gates[0].acquire(throttled)
                let throttleStart = clock.now
                gates[0].record(permit, .throttled(retryAfter: .seconds(3_600)))
                while (try? await gates[1].acquire(throttled)).map({ gates[1].record($0, .success) }) != nil {
                    await Task.yield()
                }
                throttleTimes.append(throttleStart.duration(to: clock.now))
            }
            print("| propagation to another instance (\(rounds) rounds) | p50 | p90 | max |")
            print("|---|---:|---:|---:|")
            for (name, times) in [("breaker opened by local evidence", breakerTimes), ("provider throttle (429)", throttleTimes)] {
                let sorted = times.sorted()
                func show(_ value: Duration) -> String {
                    let microseconds = Double(value.components.attoseconds) / 1e12 + Double(value.components.seconds) * 1e6
                    return microseconds >= 1000 ? "\((microseconds / 100).rounded() / 10) ms" : "\(Int(microseconds)) µs"
                }
                print("| \(name) | \(show(sorted[sorted.count / 2])) | \(show(sorted[sorted.count * 9 / 10])) | \(show(sorted.last!)) |")
            }
            group.cancelAll()
        }
    }
}
