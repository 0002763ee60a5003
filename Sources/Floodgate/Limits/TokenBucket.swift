/// A token bucket as GCRA: `rate` calls per `period` sustained, bursts of up to `burst`.
///
/// State is one theoretical arrival time (TAT). A call at `t` is allowed when `TAT − t ≤ (burst − 1) × interval`,
/// and moves TAT to `max(TAT, t) + interval`.
struct TokenBucket: Sendable, Hashable {
    /// Nanoseconds per token.
    let interval: Int64
    /// How far ahead of now the TAT may run.
    let tolerance: Int64
    private(set) var theoreticalArrival: Int64 = .min

    init(rate: Int, period: Int64, burst: Int) {
        precondition(rate > 0 && period > 0 && burst > 0, "validated by RateLimitPolicy")
        self.interval = max(1, period / Int64(rate))
        self.tolerance = interval * Int64(burst - 1)
    }

    mutating func tryAcquire(at now: Int64) -> LimitDecision {
        let arrival = theoreticalArrival == .min ? now : max(theoreticalArrival, now)
        guard arrival - now <= tolerance else { return .refused(retryAt: arrival - tolerance) }
        theoreticalArrival = arrival + interval
        return .allowed
    }

    /// Takes back the token of the last call allowed, which did not go out after all.
    mutating func undo() {
        if theoreticalArrival != .min { theoreticalArrival -= interval }
    }
}
