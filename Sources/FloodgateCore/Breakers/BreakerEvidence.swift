/// What a breaker's verdict rests on: the outcomes in its window and the failures since its last success. One
/// instance reports its own to the fleet; the fleet's is the sum of the recent reports.
package struct BreakerEvidence: Sendable, Hashable {
    package var window: OutcomeWindow.Totals
    /// Failures in a row since the last success.
    package var failureRun: Int

    package init(window: OutcomeWindow.Totals = .init(), failureRun: Int = 0) {
        self.window = window
        self.failureRun = failureRun
    }

    package static func + (lhs: Self, rhs: Self) -> Self {
        BreakerEvidence(
            window: .init(
                calls: lhs.window.calls + rhs.window.calls,
                failures: lhs.window.failures + rhs.window.failures,
                slow: lhs.window.slow + rhs.window.slow
            ),
            failureRun: lhs.failureRun + rhs.failureRun
        )
    }
}
