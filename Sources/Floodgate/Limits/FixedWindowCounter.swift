/// At most `limit` calls per aligned window: windows start at multiples of `window` since 1970.
///
/// A pure state machine over caller-supplied times (nanoseconds since 1970); no clock, no allocation.
struct FixedWindowCounter: Sendable, Hashable {
    var limit: Int
    let window: Int64
    private(set) var windowIndex: Int64 = .min
    private(set) var used = 0

    init(limit: Int, window: Int64) {
        precondition(limit >= 0 && window > 0, "validated by RateLimitPolicy")
        self.limit = limit
        self.window = window
    }

    mutating func tryAcquire(at now: Int64) -> LimitDecision {
        let index = now.floorDivided(by: window)
        if index != windowIndex {
            windowIndex = index
            used = 0
        }
        guard used < limit else { return .refused(retryAt: (index + 1) * window) }
        used += 1
        return .allowed
    }

    /// The calls counted in the window holding `now`.
    func used(at now: Int64) -> Int { now.floorDivided(by: window) == windowIndex ? used : 0 }

    /// Takes back the permit of a call allowed at `time` that did not go out after all.
    mutating func undo(at time: Int64) {
        if time.floorDivided(by: window) == windowIndex && used > 0 { used -= 1 }
    }
}

extension Int64 {
    /// Division rounding towards negative infinity.
    package func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
