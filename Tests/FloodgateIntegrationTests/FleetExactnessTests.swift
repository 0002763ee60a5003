import Floodgate
import FloodgateRedis
import Foundation
import Testing

/// Property 1 of the guard core: across instances sharing one Redis, with instances joining, leaving and crashing and
/// clocks skewed within the bound, calls allowed per key never exceed any policy in any window.
@Suite("Exact limits across a fleet on a real Redis", .serialized, .timeLimit(.minutes(3)))
struct FleetExactnessTests {
    static let second: Int64 = 1_000_000_000

    static let profile = ProviderProfile.generic([
        .rollingWindow(limit: 60, window: .seconds(10)),
        .fixedWindow(limit: 150, window: .seconds(30)),
        .tokenBucket(rate: 8, period: .seconds(1), burst: 12),
    ])

    /// Limits smaller than the fleet's share of them: `⌊limit × 0.75 / 4⌋` is 0, so members hold one permit each
    /// while they count at most 4 (`⌊5 × 1.75 / 2⌋`) and none beyond; the churn crosses that line both ways.
    static let smallProfile = ProviderProfile.generic([
        .rollingWindow(limit: 5, window: .seconds(2)),
        .fixedWindow(limit: 5, window: .seconds(3)),
    ])

    static func configuration() -> FloodgateConfiguration {
        FloodgateConfiguration(
            profiles: ["api": profile, "small": smallProfile],
            fleetSize: 4,
            maximumClockSkew: .milliseconds(250),
            heartbeatInterval: .seconds(1),
            membershipTTL: .seconds(3),
            randomSeed: 1
        )
    }

    /// True times of allowed calls per tenant; checked against every policy afterwards.
    static func check(_ allowed: [Int64]) {
        // Rolling: no 10 s interval holds more than 60.
        let busiestRolling = AllowedCalls.busiestRolling(allowed, window: 10 * second)
        #expect(busiestRolling <= 60, "rolling 60 per 10 s")
        // Fixed: no aligned 30 s window holds more than 150.
        let perWindow = AllowedCalls.perFixedWindow(allowed, window: 30 * second)
        #expect(perWindow.values.allSatisfy { $0 <= 150 }, "fixed 150 per 30 s")
        // Token bucket: any closed interval of length τ holds at most 12 + τ / 125 ms calls.
        for i in allowed.indices {
            var j = i
            while j < allowed.count && allowed[j] - allowed[i] < 5 * second {
                let bound = 12 + Double(allowed[j] - allowed[i]) / Double(second / 8)
                if Double(j - i + 1) > bound + 1e-9 {
                    Issue.record("bucket exceeded: \(j - i + 1) calls in \(allowed[j] - allowed[i]) ns")
                    return
                }
                j += 1
            }
        }
    }

    /// The small limits' windows, checked the same way.
    static func checkSmall(_ allowed: [Int64]) {
        #expect(AllowedCalls.busiestRolling(allowed, window: 2 * second) <= 5, "rolling 5 per 2 s")
        let perWindow = AllowedCalls.perFixedWindow(allowed, window: 3 * second)
        #expect(perWindow.values.allSatisfy { $0 <= 5 }, "fixed 5 per 3 s")
    }

    /// Seeds 1, 2, 3; `FLOODGATE_EXACTNESS_SEEDS=N` runs seeds 1...N (`scripts/reliability` runs many).
    static let seeds: [UInt64] = {
        let count = ProcessInfo.processInfo.environment["FLOODGATE_EXACTNESS_SEEDS"].flatMap { UInt64($0) } ?? 3
        return Array(1...max(1, count))
    }()

    @Test(arguments: seeds)
    func limitsHoldWhileInstancesJoinLeaveAndCrash(seed: UInt64) async throws {
        try await Self.churn(seed: seed, onCluster: false)
    }

    /// The same churn on a Redis Cluster (three primaries with a replica each): the limits hold there too.
    @Test func limitsHoldOnARedisClusterToo() async throws {
        try await Self.churn(seed: 1, onCluster: true)
    }

    static func churn(seed: UInt64, onCluster: Bool) async throws {
        try await withFleet(onCluster: onCluster) { fleet in
            var generator = SeededGenerator(seed: seed)
            let start = fleet.clock.now
            let skew = { (generator: inout SeededGenerator) in Duration.milliseconds(Int64.random(in: -125...125, using: &generator)) }
            var live: [(FleetHarness.Instance, Duration)] = []
            for _ in 0..<3 {
                let offset = skew(&generator)
                live.append((try await fleet.addInstance(Self.configuration(), offset: offset), offset))
            }
            // Two tenants on the larger limits, one on the small ones.
            let tenants = try (0..<2).map { try GuardKey(integration: "api", tenant: "t\($0)") }
                + [try GuardKey(integration: "small", tenant: "t0")]
            var allowed: [[Int64]] = Array(repeating: [], count: tenants.count)
            var attempts = 0
            var joins = 0
            var crashes = 0
            var leaves = 0
            for _ in 0..<4_000 {
                fleet.clock.advance(by: .milliseconds(Int64.random(in: 0...60, using: &generator)))
                switch Int.random(in: 0..<1_000, using: &generator) {
                case 0..<4 where live.count < 6:
                    let offset = skew(&generator)
                    live.append((try await fleet.addInstance(Self.configuration(), offset: offset), offset))
                    joins += 1
                    continue
                case 4..<6 where live.count > 2:
                    await live.remove(at: Int.random(in: 0..<live.count, using: &generator)).0.crash()
                    crashes += 1
                    continue
                case 6..<8 where live.count > 2:
                    await live.remove(at: Int.random(in: 0..<live.count, using: &generator)).0.leave()
                    leaves += 1
                    continue
                default:
                    break
                }
                let tenant = Int.random(in: 0..<tenants.count, using: &generator)
                let (instance, _) = live[Int.random(in: 0..<live.count, using: &generator)]
                attempts += 1
                if let permit = try? await instance.floodgate.acquire(tenants[tenant]) {
                    allowed[tenant].append(fleet.clock.now.nanosecondsSince1970)
                    instance.floodgate.record(permit, .success)
                }
            }
            for calls in allowed.prefix(2) { Self.check(calls) }
            Self.checkSmall(allowed[2])
            let total = allowed.prefix(2).map(\.count).reduce(0, +)
            let span = Double(fleet.clock.now.nanosecondsSince1970 - start.nanosecondsSince1970) / Double(Self.second)
            let ideal = 2 * 5 * span  // the fixed window's 5 per second binds tightest
            print("allowed \(total) of \(attempts) attempts; ideal \(Int(ideal)); small limits \(allowed[2].count); joins \(joins) crashes \(crashes) leaves \(leaves)")
            #expect(Double(total) > 0.25 * ideal, "the fleet uses its limits: \(total) allowed, ideal \(Int(ideal))")
            #expect(joins + crashes + leaves > 0, "membership changed during the run")
            // Near the small limits' own rate (5 per 3 s), not starved by the floor's bookkeeping.
            #expect(Double(allowed[2].count) > 0.25 * 5 * span / 3, "the small limits are used: \(allowed[2].count) allowed")
        }
    }
}
