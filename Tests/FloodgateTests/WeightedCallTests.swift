import Floodgate
import FloodgateTesting
import FloodgateTestSupport
import Testing

/// Weighted calls (`acquire(_:cost:)`): a batch counts as `cost` calls against every limit, all or nothing, while
/// the breaker and the back-off see one call.
@Suite("Weighted calls", .timeLimit(.minutes(3)))
struct WeightedCallTests {
    static func floodgate(_ policies: [RateLimitPolicy], breaker: BreakerPolicy = BreakerPolicy()) throws -> (Floodgate, ManualClock) {
        let clock = ManualClock(start: LocalOnlyFloodgateTests.start)
        let floodgate = try Floodgate(
            configuration: FloodgateConfiguration(instanceID: "weighted", profiles: ["api": .generic(policies)], defaultBreaker: breaker),
            store: .memory,
            clock: clock
        )
        return (floodgate, clock)
    }

    @Test(arguments: [
        RateLimitPolicy.fixedWindow(limit: 10, window: .seconds(60)),
        .rollingWindow(limit: 10, window: .seconds(60)),
        .tokenBucket(rate: 10, period: .seconds(60), burst: 10),
    ])
    func aWeightedCallTakesAllOfItsUnitsOrNone(policy: RateLimitPolicy) async throws {
        let (floodgate, _) = try Self.floodgate([policy])
        let key = try GuardKey(integration: "api", tenant: "t")
        let first = try await floodgate.acquire(key, cost: 4)
        #expect(first.cost == 4)
        floodgate.record(first, .success)
        floodgate.record(try await floodgate.acquire(key, cost: 4), .success)
        await #expect(throws: FloodgateError.self) { try await floodgate.acquire(key, cost: 4) }
        // The refused batch took nothing: exactly the 2 permits left remain.
        floodgate.record(try await floodgate.acquire(key, cost: 2), .success)
        await #expect(throws: FloodgateError.self) { try await floodgate.acquire(key) }
    }

    @Test func aCancelledWeightedCallGivesEveryUnitBack() async throws {
        let (floodgate, _) = try Self.floodgate([.fixedWindow(limit: 10, window: .seconds(60))])
        let key = try GuardKey(integration: "api", tenant: "t")
        floodgate.record(try await floodgate.acquire(key, cost: 10), .cancelled)
        floodgate.record(try await floodgate.acquire(key, cost: 10), .success)
    }

    @Test func concurrencyHoldsEveryUnitUntilTheOutcome() async throws {
        let (floodgate, _) = try Self.floodgate([.concurrency(limit: 3, leaseTimeout: .seconds(60))])
        let key = try GuardKey(integration: "api", tenant: "t")
        let held = try await floodgate.acquire(key, cost: 2)
        await #expect(throws: FloodgateError.self) { try await floodgate.acquire(key, cost: 2) }
        floodgate.record(held, .success)
        floodgate.record(try await floodgate.acquire(key, cost: 3), .success)
    }

    @Test func theBreakerCountsAWeightedCallOnce() async throws {
        var breaker = BreakerPolicy()
        breaker.minimumCalls = 2
        breaker.failureRateThreshold = 0.5
        let (floodgate, _) = try Self.floodgate([.fixedWindow(limit: 1_000, window: .seconds(60))], breaker: breaker)
        let key = try GuardKey(integration: "api", tenant: "t")
        // One failed batch of 50: one failure, under the breaker's two calls minimum; it stays closed.
        floodgate.record(try await floodgate.acquire(key, cost: 50), .failure)
        #expect(floodgate.breakerState(of: "api") == .closed)
        floodgate.record(try await floodgate.acquire(key), .failure)
        if case .open = floodgate.breakerState(of: "api") {} else { Issue.record("two failures of two calls open it") }
    }

    @Test func aCostBelowOneIsRefusedNamingTheField() async throws {
        let (floodgate, _) = try Self.floodgate([])
        let key = try GuardKey(integration: "api", tenant: "t")
        do {
            _ = try await floodgate.acquire(key, cost: 0)
            Issue.record("accepted a cost of 0")
        } catch let error as FloodgateError {
            #expect(error.code == .invalidArgument && error.field == "cost")
        }
    }
}
