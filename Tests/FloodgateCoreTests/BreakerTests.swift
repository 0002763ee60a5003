@testable import FloodgateCore
import Testing

@Suite("Circuit breaker state machine", .timeLimit(.minutes(3)))
struct BreakerTests {
    static let second: Int64 = 1_000_000_000
    let start: Int64 = 1_767_225_600 * second

    func breaker(_ policy: BreakerPolicy = BreakerPolicy(minimumCalls: 4, openDuration: .seconds(30), halfOpenProbes: 2)) -> BreakerStateMachine {
        BreakerStateMachine(policy: policy)
    }

    @Test func opensWhenTheFailureRateReachesTheThresholdAfterMinimumCalls() {
        var machine = breaker()
        #expect(machine.record(.failure, duration: .milliseconds(5), at: start) == nil)
        #expect(machine.record(.failure, duration: .milliseconds(5), at: start) == nil)
        #expect(machine.record(.failure, duration: .milliseconds(5), at: start) == nil, "below minimum calls")
        let opened = machine.record(.success, duration: .milliseconds(5), at: start)
        #expect(opened == .open(until: start + 30 * Self.second), "3 of 4 failed: 75% ≥ 50%")
        #expect(machine.admit(at: start + Self.second) == .refused(retryAt: start + 30 * Self.second))
    }

    @Test func staysClosedBelowTheThreshold() {
        var machine = breaker()
        for index in 0..<100 {
            let outcome: BreakerStateMachine.Outcome = index % 3 == 2 ? .failure : .success
            #expect(machine.record(outcome, duration: .milliseconds(5), at: start + Int64(index) * Self.second / 10) == nil)
        }
        #expect(machine.state == .closed)
    }

    @Test func slowCallsOpenItToo() {
        var machine = breaker(BreakerPolicy(slowCallRateThreshold: 0.5, slowCallDuration: .seconds(2), minimumCalls: 2))
        machine.record(.success, duration: .seconds(3), at: start)
        #expect(machine.record(.success, duration: .seconds(3), at: start) != nil)
        #expect(machine.state == .open(until: start + 30 * Self.second))
    }

    @Test func halfOpenLetsABoundedNumberOfProbesAndClosesWhenAllSucceed() {
        var machine = breaker()
        _ = machine.open(until: start)
        #expect(machine.admit(at: start) == .probe)
        #expect(machine.admit(at: start) == .probe)
        guard case .refused = machine.admit(at: start) else {
            Issue.record("a third call must wait while two probes are out")
            return
        }
        #expect(machine.record(.success, duration: .milliseconds(5), at: start) == nil)
        #expect(machine.record(.success, duration: .milliseconds(5), at: start) == .closed)
        #expect(machine.admit(at: start) == .allowed)
    }

    @Test func aFailedProbeOpensAgain() {
        var machine = breaker()
        _ = machine.open(until: start)
        #expect(machine.admit(at: start) == .probe)
        #expect(machine.record(.failure, duration: .milliseconds(5), at: start + Self.second) == .open(until: start + 31 * Self.second))
    }

    @Test func timeWindowForgetsOldOutcomes() {
        var machine = breaker(BreakerPolicy(window: .time(duration: .seconds(10), buckets: 10), minimumCalls: 4))
        for _ in 0..<3 { machine.record(.failure, duration: .zero, at: start) }
        // Twenty seconds later those failures are out of the window: four successes keep it closed.
        for _ in 0..<4 { #expect(machine.record(.success, duration: .zero, at: start + 20 * Self.second) == nil) }
        #expect(machine.state == .closed)
    }

    @Test func countWindowKeepsOnlyTheLastCalls() {
        var machine = breaker(BreakerPolicy(window: .count(calls: 4), minimumCalls: 4))
        for _ in 0..<10 { machine.record(.success, duration: .zero, at: start) }
        machine.record(.failure, duration: .zero, at: start)
        #expect(machine.state == .closed, "1 of the last 4")
        #expect(machine.record(.failure, duration: .zero, at: start) != nil, "2 of the last 4: 50%")
    }

    @Test func forcedStatesOverrideEverythingUntilReleased() {
        var machine = breaker()
        #expect(machine.force(open: true) == .forcedOpen)
        #expect(machine.admit(at: start) == .refused(retryAt: .max))
        #expect(machine.open(until: start + Self.second) == nil, "a forced state ignores remote opens")
        #expect(machine.force(open: false) == .forcedClosed)
        for _ in 0..<20 { machine.record(.failure, duration: .zero, at: start) }
        #expect(machine.admit(at: start) == .allowed)
        #expect(machine.release() == .closed)
    }

    @Test(arguments: [
        BreakerPolicy(failureRateThreshold: 1.5),
        BreakerPolicy(minimumCalls: 0),
        BreakerPolicy(window: .count(calls: 0)),
        BreakerPolicy(window: .time(duration: .seconds(10), buckets: 0)),
        BreakerPolicy(halfOpenProbes: 0),
    ])
    func invalidPoliciesAreRefused(policy: BreakerPolicy) {
        #expect(throws: FloodgateError.self) { try policy.validate() }
    }

    @Test(arguments: [UInt64(1), 2, 3, 4])
    func runningTotalsMatchAFullScanOfTheWindow(seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        var window = OutcomeWindow(.time(duration: .seconds(60), buckets: 12))
        var now = start
        for _ in 0..<5_000 {
            // Mostly forward, sometimes a long gap, sometimes a late outcome from a few seconds ago.
            switch Int.random(in: 0..<100, using: &generator) {
            case 0..<3: now += Int64.random(in: 60...200, using: &generator) * Self.second
            default: now += Int64.random(in: 0...(Self.second / 2), using: &generator)
            }
            let late = Int.random(in: 0..<20, using: &generator) == 0 ? Int64.random(in: 0...(8 * Self.second), using: &generator) : 0
            window.add(failure: Bool.random(using: &generator), slow: Bool.random(using: &generator), at: now - late)
            #expect(window.latestTotals == window.totals(at: now))
        }
    }
}
