import Floodgate
import FloodgateTestSupport
import Testing

@Suite("Local-only limiter")
struct LocalLimiterTests {
    static let second: Int64 = 1_000_000_000
    let start = WallInstant(nanosecondsSince1970: 1_767_225_600 * 1_000_000_000)

    @Test(arguments: [(1, 50), (4, 50), (3, 100), (7, 5), (4, 1)])
    func sharesAddUpToExactlyTheLimit(fleetSize: Int, limit: Int) throws {
        let shares = try (0..<fleetSize).map {
            try LocalLimiter(fleetSize: fleetSize, instanceIndex: $0, policies: { _ in [] }).share(of: limit)
        }
        #expect(shares.reduce(0, +) == limit)
        #expect(shares.max()! - shares.min()! <= 1)
    }

    @Test func aFleetInLocalOnlyModeStaysWithinTheLimit() throws {
        let key = try GuardKey(integration: "slack", tenant: "T1", operation: "conversations.history")
        let profile = ProviderProfile.slack()
        let fleet = try (0..<4).map { try LocalLimiter(fleetSize: 4, instanceIndex: $0, policies: profile.policies) }
        var generator = SeededGenerator(seed: 3)
        var allowedPerMinute: [Int64: Int] = [:]
        var time = start
        for _ in 0..<20_000 {
            time = time.advanced(by: .milliseconds(Int64.random(in: 0...40, using: &generator)))
            let instance = fleet[Int.random(in: 0..<4, using: &generator)]
            if instance.acquire(key, at: time) == .allowed {
                allowedPerMinute[time.secondsSince1970 / 60, default: 0] += 1
            }
        }
        #expect(allowedPerMinute.values.allSatisfy { $0 <= 50 }, "tier 3: 50 per minute across the fleet")
        #expect(allowedPerMinute.values.contains { $0 >= 45 }, "and the shares are actually used")
    }

    @Test func aRefusalTakesBackWhatOtherPoliciesGranted() throws {
        let key = try GuardKey(integration: "api", tenant: "t")
        let limiter = try LocalLimiter(policies: { _ in
            [.fixedWindow(limit: 100, window: .seconds(60)), .tokenBucket(rate: 1, period: .seconds(1), burst: 2)]
        })
        #expect(limiter.acquire(key, at: start) == .allowed)
        #expect(limiter.acquire(key, at: start) == .allowed)
        // The bucket is empty now: these refusals must not eat into the minute's 100.
        for _ in 0..<200 {
            guard case .refused = limiter.acquire(key, at: start) else {
                Issue.record("the token bucket must refuse")
                return
            }
        }
        var allowed = 2
        var time = start
        for _ in 0..<59 {
            time = time.advanced(by: .seconds(1))
            if limiter.acquire(key, at: time) == .allowed { allowed += 1 }
        }
        #expect(allowed == 61, "one per second after the burst, none lost to the refused attempts")
    }

    @Test func aZeroShareRefusesAndConcurrencyIsNotEnforcedLocally() throws {
        let key = try GuardKey(integration: "api", tenant: "t")
        let starved = try LocalLimiter(fleetSize: 4, instanceIndex: 3, policies: { _ in [.fixedWindow(limit: 2, window: .seconds(60))] })
        #expect(starved.acquire(key, at: start) != .allowed, "2 per minute over 4 instances: instance 3 gets none")
        let concurrency = try LocalLimiter(policies: { _ in [.concurrency(limit: 1, leaseTimeout: .seconds(60))] })
        #expect(concurrency.acquire(key, at: start) == .allowed)
        #expect(concurrency.acquire(key, at: start) == .allowed)
    }

    @Test func anIndexOutsideTheFleetIsAConfigurationError() {
        let error = #expect(throws: FloodgateError.self) { try LocalLimiter(fleetSize: 2, instanceIndex: 2, policies: { _ in [] }) }
        #expect(error?.code == .invalidConfiguration)
    }
}
