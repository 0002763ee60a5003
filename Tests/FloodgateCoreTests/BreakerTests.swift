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

    @Test func aRunOfFailuresOpensItBeforeTheWindowsRatesWould() {
        var machine = breaker(BreakerPolicy(minimumCalls: 10, consecutiveFailures: 5))
        // Twenty successes hold the rate far below 50% for the whole window; five failures in a row open it anyway.
        for _ in 0..<20 { machine.record(.success, duration: .zero, at: start) }
        for index in 0..<4 {
            #expect(machine.record(.failure, duration: .zero, at: start + Int64(index) * Self.second) == nil)
        }
        #expect(machine.failureRun == 4)
        #expect(machine.record(.failure, duration: .zero, at: start + 4 * Self.second) == .open(until: start + 34 * Self.second))
    }

    @Test func aSuccessEndsTheRunAndZeroTurnsTheRuleOff() {
        var machine = breaker(BreakerPolicy(minimumCalls: 100, consecutiveFailures: 3))
        for _ in 0..<10 {
            machine.record(.failure, duration: .zero, at: start)
            machine.record(.failure, duration: .zero, at: start)
            machine.record(.success, duration: .zero, at: start)
        }
        #expect(machine.state == .closed, "two in a row, never three")
        var off = breaker(BreakerPolicy(minimumCalls: 100, consecutiveFailures: 0))
        for _ in 0..<50 { off.record(.failure, duration: .zero, at: start) }
        #expect(off.state == .closed, "only the rates, and the window holds fewer than 100 calls")
    }

    @Test func theFleetHearsOfARunAsItGrowsAndWhenItEnds() {
        let interval = Self.second
        var machine = breaker(BreakerPolicy(minimumCalls: 1_000, consecutiveFailures: 0))
        for _ in 0..<30 { machine.record(.success, duration: .zero, at: start) }
        machine.record(.failure, duration: .zero, at: start)
        #expect(machine.evidenceToReport(at: start, fraction: 0.5, interval: interval) == nil, "a lone failure is noise")
        machine.record(.failure, duration: .zero, at: start)
        let second = machine.evidenceToReport(at: start, fraction: 0.5, interval: interval)
        #expect(second?.failureRun == 2, "the second in a row goes at once")
        #expect(second?.window == OutcomeWindow.Totals(calls: 32, failures: 2, slow: 0))
        machine.record(.failure, duration: .zero, at: start + 1)
        #expect(machine.evidenceToReport(at: start + 1, fraction: 0.5, interval: interval)?.failureRun == 3, "and each one after")
        machine.record(.success, duration: .zero, at: start + 2)
        #expect(machine.evidenceToReport(at: start + 2, fraction: 0.5, interval: interval)?.failureRun == 0, "its end too")
        machine.record(.success, duration: .zero, at: start + 3)
        #expect(machine.evidenceToReport(at: start + 3, fraction: 0.5, interval: interval) == nil, "then nothing")
        machine.record(.failure, duration: .zero, at: start + 4)
        #expect(machine.evidenceToReport(at: start + 4, fraction: 0.5, interval: interval) == nil, "a new lone failure")
    }

    @Test func ratesAreReportedAtMostOnceAnIntervalAndOnlyNearTheThreshold() {
        let interval = Self.second
        var machine = breaker(BreakerPolicy(minimumCalls: 1_000, consecutiveFailures: 0))
        // 1 of 2 failing (50% ≥ half the 50% threshold), never two in a row.
        machine.record(.failure, duration: .zero, at: start)
        machine.record(.success, duration: .zero, at: start)
        #expect(machine.evidenceToReport(at: start, fraction: 0.5, interval: interval) == nil, "one failure only")
        machine.record(.failure, duration: .zero, at: start + 1)
        #expect(machine.evidenceToReport(at: start + 1, fraction: 0.5, interval: interval)?.window.failures == 2)
        machine.record(.success, duration: .zero, at: start + 2)
        machine.record(.failure, duration: .zero, at: start + 3)
        #expect(machine.evidenceToReport(at: start + 3, fraction: 0.5, interval: interval) == nil, "within the interval")
        machine.record(.success, duration: .zero, at: start + 1 + interval)
        #expect(
            machine.evidenceToReport(at: start + 1 + interval, fraction: 0.5, interval: interval)?.window.failures == 3,
            "the failure held back goes with the next outcome after the interval"
        )
        for _ in 0..<40 { machine.record(.success, duration: .zero, at: start + 1 + interval) }
        machine.record(.failure, duration: .zero, at: start + 3 * interval)
        #expect(machine.evidenceToReport(at: start + 3 * interval, fraction: 0.5, interval: interval) == nil, "4 of 47: far below")
    }

    @Test func theFleetsSumsTripOnTheSameRule() {
        let policy = BreakerPolicy(minimumCalls: 10, consecutiveFailures: 5)
        let a = BreakerEvidence(window: .init(calls: 8, failures: 3, slow: 0), failureRun: 3)
        let b = BreakerEvidence(window: .init(calls: 9, failures: 2, slow: 0), failureRun: 2)
        #expect(!policy.trips(on: a) && !policy.trips(on: b))
        #expect(policy.trips(on: a + b), "3 + 2 failures in a row across the fleet")
        let rates = BreakerEvidence(window: .init(calls: 6, failures: 4, slow: 0), failureRun: 1)
        #expect(!policy.trips(on: rates), "below the minimum calls")
        #expect(policy.trips(on: rates + rates), "12 calls, 8 failed")
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
        BreakerPolicy(consecutiveFailures: -1),
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
