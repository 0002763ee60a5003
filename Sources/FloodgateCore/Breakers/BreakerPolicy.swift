/// When a circuit breaker opens, how long it stays open, and how it probes its way back.
public struct BreakerPolicy: Sendable, Hashable {
    /// What the failure and slow-call rates are computed over.
    public enum Window: Sendable, Hashable {
        /// The last `calls` recorded outcomes.
        case count(calls: Int)
        /// The outcomes of the last `duration`, in `buckets` buckets.
        case time(duration: Duration, buckets: Int)
    }

    public var window: Window
    /// Open when at least this share of the window's calls failed (0...1).
    public var failureRateThreshold: Double
    /// Open when at least this share of the window's calls were slow (0...1; 1 disables in practice).
    public var slowCallRateThreshold: Double
    /// A call that took at least this long counts as slow.
    public var slowCallDuration: Duration
    /// No verdict on the rates before the window holds this many calls.
    public var minimumCalls: Int
    /// Open when this many calls in a row failed, whatever the window holds (0: never on a run alone). Fleet-wide
    /// the instances' runs of failures since their last success add up. It reacts to an outage in a few calls where
    /// the rates wait for the window's older successes to age out; random failures of a few percent make a run of
    /// five about once in a hundred million calls.
    public var consecutiveFailures: Int
    /// How long the breaker stays open before it lets probes through.
    public var openDuration: Duration
    /// How many probe calls half-open lets through; all must succeed to close.
    public var halfOpenProbes: Int

    public init(
        window: Window = .time(duration: .seconds(8), buckets: 8),
        failureRateThreshold: Double = 0.5,
        slowCallRateThreshold: Double = 1.0,
        slowCallDuration: Duration = .seconds(10),
        minimumCalls: Int = 10,
        consecutiveFailures: Int = 5,
        openDuration: Duration = .seconds(30),
        halfOpenProbes: Int = 3
    ) {
        self.window = window
        self.failureRateThreshold = failureRateThreshold
        self.slowCallRateThreshold = slowCallRateThreshold
        self.slowCallDuration = slowCallDuration
        self.minimumCalls = minimumCalls
        self.consecutiveFailures = consecutiveFailures
        self.openDuration = openDuration
        self.halfOpenProbes = halfOpenProbes
    }

    /// - Throws: ``FloodgateError`` `.invalidConfiguration` naming the field.
    public func validate() throws {
        func fail(_ message: String) throws { throw FloodgateError(.invalidConfiguration, "breaker: \(message)") }
        switch window {
        case .count(let calls): if calls <= 0 { try fail("window.calls must be positive") }
        case .time(let duration, let buckets):
            if duration <= .zero { try fail("window.duration must be positive") }
            if buckets <= 0 { try fail("window.buckets must be positive") }
        }
        if !(0...1).contains(failureRateThreshold) { try fail("failureRateThreshold must be within 0...1") }
        if !(0...1).contains(slowCallRateThreshold) { try fail("slowCallRateThreshold must be within 0...1") }
        if slowCallDuration <= .zero { try fail("slowCallDuration must be positive") }
        if minimumCalls <= 0 { try fail("minimumCalls must be positive") }
        if consecutiveFailures < 0 { try fail("consecutiveFailures must not be negative") }
        if openDuration <= .zero { try fail("openDuration must be positive") }
        if halfOpenProbes <= 0 { try fail("halfOpenProbes must be positive") }
    }
}

extension BreakerPolicy {
    /// The trip rule, for one instance's evidence and for the fleet's sums alike: a run of `consecutiveFailures`
    /// failures, or at least `minimumCalls` calls in the window with a failure or slow-call rate at its threshold.
    package func trips(on evidence: BreakerEvidence) -> Bool {
        if consecutiveFailures > 0, evidence.failureRun >= consecutiveFailures { return true }
        return evidence.window.calls >= minimumCalls && reachesRates(evidence.window, fraction: 1)
    }

    /// Whether the window's failure or slow-call rate reaches `fraction` of its threshold.
    package func reachesRates(_ window: OutcomeWindow.Totals, fraction: Double) -> Bool {
        guard window.calls > 0 else { return false }
        let failureRate = Double(window.failures) / Double(window.calls)
        let slowRate = Double(window.slow) / Double(window.calls)
        return failureRate >= failureRateThreshold * fraction || slowRate >= slowCallRateThreshold * fraction
    }
}
