import Floodgate
import FloodgateRedis
import FloodgateSimulation
import FloodgateTestSupport
import Synchronization
import Testing

/// A flag set from another task.
final class Flag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}

/// Redis slow or silent, through a fault proxy: decisions on held capacity never wait for it; decisions that need
/// it wait at most the command timeout, then the instance runs degraded and comes back.
@Suite("Slow and silent Redis", .serialized, .timeLimit(.minutes(3)))
struct SlowRedisTests {
    static func configuration() -> FloodgateConfiguration {
        FleetCoordinationTests.configuration([
                // Plenty of share: decisions on it need no Redis.
                "api": .generic([.fixedWindow(limit: 4_000, window: .seconds(60))]),
                // No share at all (⌊1 × 0.75 / 2⌋ = 0): every call needs a pool grant from Redis.
                "pooled": .generic([.fixedWindow(limit: 1, window: .seconds(60))]),
            ])
    }

    @Test func aSlowRedisDoesNotSlowDecisionsOnHeldCapacity() async throws {
        try await withFleet { fleet in
            let proxy = try await FaultProxy.start(to: fleet.server.host, port: fleet.server.port)
            defer { Task { await proxy.stop() } }
            let a = try await fleet.addInstance(Self.configuration(), through: proxy)
            try await fleet.advance(by: .seconds(62), step: .seconds(1), instances: [a])
            let held = try GuardKey(integration: "api", tenant: "t")
            let pooled = try GuardKey(integration: "pooled", tenant: "t")
            // Every reply now takes 500 ms each way.
            proxy.set(.delay(.milliseconds(500)))
            let grantDone = Flag()
            let grant = Task {
                defer { grantDone.set() }
                return try await a.floodgate.acquire(pooled)
            }
            var allowed = 0
            for _ in 0..<1_000 {
                let permit = try await a.floodgate.acquire(held)
                a.floodgate.record(permit, .success)
                allowed += 1
            }
            #expect(allowed == 1_000)
            let grantFinishedFirst = grantDone.isSet
            #expect(!grantFinishedFirst, "1,000 decisions on the share finished while one grant waited on Redis")
            let permit = try await grant.value
            a.floodgate.record(permit, .success)
            #expect(a.floodgate.mode == .shared, "slow is not down")
        }
    }

    @Test func aSilentRedisCostsOneCommandTimeoutThenDegradedModeAndRecovery() async throws {
        try await withFleet { fleet in
            let proxy = try await FaultProxy.start(to: fleet.server.host, port: fleet.server.port)
            defer { Task { await proxy.stop() } }
            let a = try await fleet.addInstance(Self.configuration(), through: proxy, commandTimeout: .milliseconds(300))
            try await fleet.advance(by: .seconds(62), step: .seconds(1), instances: [a])
            try await fleet.settle(instances: [a])
            let held = try GuardKey(integration: "api", tenant: "t")
            let pooled = try GuardKey(integration: "pooled", tenant: "t")
            // The connection stays open but nothing comes back (a half-open path dropping every packet).
            proxy.set(.blackhole)
            let beforeGrant = a.client.accounting.snapshot()
            let started = ContinuousClock.now
            await #expect(throws: FloodgateError.self, "the grant times out and the call is refused, not hung") {
                try await a.floodgate.acquire(pooled)
            }
            #expect(ContinuousClock.now - started >= .milliseconds(300), "the call waited for its grant's command timeout")
            #expect(a.client.accounting.snapshot().subtracting(beforeGrant).byComponent == [.rateLimit: 1], "one grant request")
            #expect(a.floodgate.mode == .degraded)
            // One timeout, not one per call: while degraded the pool is not asked again, and held capacity keeps
            // deciding, with nothing sent.
            let degraded = a.client.accounting.snapshot()
            let refusal = await #expect(throws: FloodgateError.self) { try await a.floodgate.acquire(pooled) }
            #expect(refusal?.code == .rateLimited)
            for _ in 0..<100 { a.floodgate.record(try await a.floodgate.acquire(held), .success) }
            #expect(a.client.accounting.snapshot().subtracting(degraded).total == 0, "nothing sent while degraded")
            proxy.set(.pass)
            // The silent connection is abandoned once a timed-out command is still unanswered a grace later; the client
            // reconnects (through the healed path), and the heartbeat, retried every recovery interval, finds Redis.
            try await eventually("shared again") {
                fleet.clock.advance(by: .seconds(1))
                return a.floodgate.mode == .shared
            }
        }
    }
}
