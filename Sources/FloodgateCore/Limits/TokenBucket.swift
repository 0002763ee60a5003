/// A token bucket as GCRA: `rate` calls per `period` sustained, bursts of up to `burst`.
///
/// State is one theoretical arrival time (TAT). A call at `t` is allowed when `TAT − t ≤ (burst − 1) × interval`,
/// and moves TAT to `max(TAT, t) + interval`.
package struct TokenBucket: Sendable, Hashable {
    /// Nanoseconds per token.
    package let interval: Int64
    /// How far ahead of now the TAT may run.
    package let tolerance: Int64
    package private(set) var theoreticalArrival: Int64 = .min

    package init(rate: Int, period: Int64, burst: Int) {
        precondition(rate > 0 && period > 0 && burst > 0, "validated by RateLimitPolicy")
        self.interval = max(1, period / Int64(rate))
        self.tolerance = interval * Int64(burst - 1)
    }

    package mutating func tryAcquire(at now: Int64) -> LimitDecision {
        let arrival = theoreticalArrival == .min ? now : max(theoreticalArrival, now)
        guard arrival - now <= tolerance else { return .refused(retryAt: arrival - tolerance) }
        theoreticalArrival = arrival + interval
        return .allowed
    }

    /// Takes back the token of the last call allowed, which did not go out after all.
    package mutating func undo() {
        if theoreticalArrival != .min { theoreticalArrival -= interval }
    }
}
