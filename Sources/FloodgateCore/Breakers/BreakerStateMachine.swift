/// One circuit breaker's logic on caller-supplied times (nanoseconds since 1970): closed, open until a time, or
/// half-open with a bounded number of probes. Pure: no clock, no I/O; the fleet-wide parts (sharing failures,
/// publishing state changes, counting probes fleet-wide) feed it and read its transitions.
package struct BreakerStateMachine: Sendable, Hashable {
    package enum State: Sendable, Hashable {
        case closed
        case open(until: Int64)
        case halfOpen(probesIssued: Int, probesSucceeded: Int)
        case forcedOpen
        case forcedClosed
    }

    package enum Admission: Sendable, Hashable {
        case allowed
        /// Allowed as one of the half-open probes.
        case probe
        case refused(retryAt: Int64)
    }

    package enum Outcome: Sendable, Hashable {
        case success
        case failure
    }

    /// Its policy; a reload may change everything but the window.
    package var policy: BreakerPolicy
    package private(set) var state: State = .closed
    /// The end of the last open period: the fleet counts half-open probes per period.
    package private(set) var lastOpenUntil: Int64 = 0
    private var window: OutcomeWindow
    /// Failures in a row since the last success (closed state).
    package private(set) var failureRun = 0
    /// What the fleet last heard from this breaker: when (nil: nothing yet), and the run it said.
    private var lastReportAt: Int64? = nil
    private var reportedRun = 0
    /// A failure or slow call came since the last report.
    private var unreported = false

    package init(policy: BreakerPolicy) {
        self.policy = policy
        self.window = OutcomeWindow(policy.window)
    }

    /// Whether a call may go out at `now`. Moves open to half-open when the open time has passed.
    package mutating func admit(at now: Int64) -> Admission {
        switch state {
        case .closed, .forcedClosed:
            return .allowed
        case .forcedOpen:
            return .refused(retryAt: .max)
        case .open(let until):
            guard now >= until else { return .refused(retryAt: until) }
            state = .halfOpen(probesIssued: 1, probesSucceeded: 0)
            return .probe
        case .halfOpen(let issued, let succeeded):
            guard issued < policy.halfOpenProbes else { return .refused(retryAt: now + policy.openDuration.nanoseconds / 10) }
            state = .halfOpen(probesIssued: issued + 1, probesSucceeded: succeeded)
            return .probe
        }
    }

    /// Records a call's outcome and how long it took; returns the new state if it changed.
    @discardableResult
    package mutating func record(_ outcome: Outcome, duration: Duration, at now: Int64) -> State? {
        let slow = duration >= policy.slowCallDuration
        switch state {
        case .forcedOpen, .forcedClosed:
            window.add(failure: outcome == .failure, slow: slow, at: now)
            failureRun = outcome == .failure ? failureRun + 1 : 0
            return nil
        case .halfOpen(let issued, let succeeded):
            if outcome == .failure || slow { return transition(to: .open(until: now + policy.openDuration.nanoseconds)) }
            if succeeded + 1 >= policy.halfOpenProbes {
                resetEvidence()
                return transition(to: .closed)
            }
            state = .halfOpen(probesIssued: issued, probesSucceeded: succeeded + 1)
            return nil
        case .open:
            return nil  // a late outcome of a call admitted before opening
        case .closed:
            window.add(failure: outcome == .failure, slow: slow, at: now)
            failureRun = outcome == .failure ? failureRun + 1 : 0
            if outcome == .failure || slow { unreported = true }
            if policy.trips(on: BreakerEvidence(window: window.latestTotals, failureRun: failureRun)) {
                return transition(to: .open(until: now + policy.openDuration.nanoseconds))
            }
            return nil
        }
    }

    /// This breaker's evidence for the fleet after an outcome recorded at `now`, when it is worth the report's
    /// commands (marked as reported); nil otherwise. Worth it: a run of two failures or more as soon as it grows, the
    /// end of a run the fleet was told of (so the fleet stops counting it), and otherwise failures or slow calls that
    /// reach `fraction` of a rate threshold, at most once an `interval` (a lone failure among few calls is noise).
    package mutating func evidenceToReport(at now: Int64, fraction: Double, interval: Int64) -> BreakerEvidence? {
        guard state == .closed else { return nil }
        let runGrew = failureRun >= 2 && failureRun > reportedRun
        let runEnded = failureRun == 0 && reportedRun >= 2
        // The common case, a success with nothing pending, decides without reading the window.
        guard runGrew || runEnded || unreported else {
            reportedRun = min(reportedRun, failureRun)
            return nil
        }
        let totals = window.totals(at: now)
        // Bad calls since the last report that no longer bring the rates near a threshold are not worth one.
        if unreported, !(totals.failures >= 2 || totals.slow >= 2) || !policy.reachesRates(totals, fraction: fraction) {
            unreported = false
        }
        let ratesWorthIt = unreported && now - (lastReportAt ?? now - interval) >= interval
        guard runGrew || runEnded || ratesWorthIt else {
            reportedRun = min(reportedRun, failureRun)
            return nil
        }
        (lastReportAt, reportedRun) = (now, failureRun)
        unreported = false
        return BreakerEvidence(window: totals, failureRun: failureRun)
    }

    /// Opens because another instance (or an operator) says so, until `until`.
    @discardableResult
    package mutating func open(until: Int64) -> State? {
        switch state {
        case .forcedOpen, .forcedClosed: return nil
        case .open(let current) where current >= until: return nil
        default: return transition(to: .open(until: until))
        }
    }

    /// Closes because the fleet's half-open probes succeeded (another instance says so).
    @discardableResult
    package mutating func close() -> State? {
        switch state {
        case .open, .halfOpen:
            resetEvidence()
            return transition(to: .closed)
        case .closed, .forcedOpen, .forcedClosed:
            return nil
        }
    }

    /// Takes back a probe admission that the fleet's probe budget did not allow.
    package mutating func cancelProbe() {
        if case .halfOpen(let issued, let succeeded) = state, issued > 0 {
            state = .halfOpen(probesIssued: issued - 1, probesSucceeded: succeeded)
        }
    }

    /// The outcomes in the window at `now`.
    package func totals(at now: Int64) -> OutcomeWindow.Totals { window.totals(at: now) }

    /// Forces the breaker open or closed until ``release()``.
    @discardableResult
    mutating func force(open: Bool) -> State? { transition(to: open ? .forcedOpen : .forcedClosed) }

    /// Ends a forced state: back to closed with an empty window.
    @discardableResult
    package mutating func release() -> State? {
        resetEvidence()
        return transition(to: .closed)
    }

    /// A closed breaker starts again from no evidence; the fleet's reports of it have aged out or will.
    private mutating func resetEvidence() {
        window.reset()
        failureRun = 0
        (lastReportAt, reportedRun) = (nil, 0)
        unreported = false
    }

    /// While half-open: the open period being probed.
    package var probeEpoch: Int64? {
        if case .halfOpen = state { return lastOpenUntil }
        return nil
    }

    private mutating func transition(to new: State) -> State? {
        guard new != state else { return nil }
        if case .open(let until) = new { lastOpenUntil = until }
        state = new
        return new
    }
}

/// Outcome counts over the last N calls or the last duration, in rings allocated once.
package struct OutcomeWindow: Sendable, Hashable {
    package struct Totals: Sendable, Hashable {
        package var calls = 0
        package var failures = 0
        package var slow = 0

        package init(calls: Int = 0, failures: Int = 0, slow: Int = 0) {
            self.calls = calls
            self.failures = failures
            self.slow = slow
        }
    }

    /// Bucket length for a time window; 0 for a count window.
    private let bucketLength: Int64
    /// Count window: the last outcomes as bits (1 call, 2 failure, 4 slow), 0 for an empty place.
    private var outcomes: [UInt8]
    private var next = 0
    /// The totals of the window as of the latest outcome (count window: of `outcomes`; time window: of the buckets
    /// within the window of the newest one).
    private var running = Totals()
    /// Time window: totals per bucket and the bucket number each holds.
    private var buckets: [Totals]
    private var bucketNumbers: [Int64]
    /// Time window: the newest bucket number seen.
    private var newestBucket: Int64 = .min

    package init(_ window: BreakerPolicy.Window) {
        switch window {
        case .count(let calls):
            bucketLength = 0
            outcomes = Array(repeating: 0, count: calls)
            buckets = []
            bucketNumbers = []
        case .time(let duration, let count):
            bucketLength = max(1, duration.nanoseconds / Int64(count))
            outcomes = []
            buckets = Array(repeating: Totals(), count: count)
            bucketNumbers = Array(repeating: .min, count: count)
        }
    }

    package mutating func add(failure: Bool, slow: Bool, at now: Int64) {
        if bucketLength == 0 {
            let old = outcomes[next]
            if old != 0 {
                running.calls -= 1
                if old & 2 != 0 { running.failures -= 1 }
                if old & 4 != 0 { running.slow -= 1 }
            }
            outcomes[next] = 1 | (failure ? 2 : 0) | (slow ? 4 : 0)
            next = (next + 1) % outcomes.count
            running.calls += 1
            if failure { running.failures += 1 }
            if slow { running.slow += 1 }
            return
        }
        let number = now.floorDivided(by: bucketLength)
        let count = Int64(buckets.count)
        if newestBucket == .min || number > newestBucket {
            // Buckets that leave the window as it moves to `number` are taken out of the running totals.
            if newestBucket == .min || number - newestBucket >= count {
                for position in buckets.indices {
                    buckets[position] = Totals()
                    bucketNumbers[position] = .min
                }
                running = Totals()
            } else {
                var expiring = newestBucket + 1
                while expiring <= number {
                    let position = Int((expiring % count + count) % count)
                    if bucketNumbers[position] != .min {
                        running.calls -= buckets[position].calls
                        running.failures -= buckets[position].failures
                        running.slow -= buckets[position].slow
                        buckets[position] = Totals()
                        bucketNumbers[position] = .min
                    }
                    expiring += 1
                }
            }
            newestBucket = number
        }
        guard number > newestBucket - count else { return }  // a late outcome older than the window
        let position = Int((number % count + count) % count)
        bucketNumbers[position] = number
        buckets[position].calls += 1
        running.calls += 1
        if failure {
            buckets[position].failures += 1
            running.failures += 1
        }
        if slow {
            buckets[position].slow += 1
            running.slow += 1
        }
    }

    /// The totals as of the latest outcome added (no scan: kept as outcomes come and buckets expire).
    package var latestTotals: Totals { running }

    package func totals(at now: Int64) -> Totals {
        guard bucketLength > 0 else { return running }
        let current = now.floorDivided(by: bucketLength)
        var totals = Totals()
        for position in buckets.indices where bucketNumbers[position] > current - Int64(buckets.count) {
            totals.calls += buckets[position].calls
            totals.failures += buckets[position].failures
            totals.slow += buckets[position].slow
        }
        return totals
    }

    package mutating func reset() {
        running = Totals()
        next = 0
        for index in outcomes.indices { outcomes[index] = 0 }
        for index in buckets.indices {
            buckets[index] = Totals()
            bucketNumbers[index] = .min
        }
        newestBucket = .min
    }
}
