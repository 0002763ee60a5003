/// At most `limit` calls per aligned window: windows start at multiples of `window` since 1970.
///
/// With a skew `margin` (clocks within `margin` of real time), a call this close to a window's edge may fall in the
/// neighbouring window in real time, so it is counted in both and needs room in both: a call in a window's first
/// `margin` also against the previous window's limit, one in its last `margin` also against ``nextLimit``. Each
/// window in real time then holds at most its limit of this counter's calls.
///
/// A pure state machine over caller-supplied times (nanoseconds since 1970); no clock, no allocation.
package struct FixedWindowCounter: Sendable, Hashable {
    package var limit: Int
    /// The limit of the next window, for calls in this one's last margin.
    package var nextLimit: Int
    package let window: Int64
    package let margin: Int64
    package private(set) var windowIndex: Int64 = .min
    package private(set) var used = 0
    /// Calls of this window's last margin, counted into the next window too.
    private var usedNext = 0
    /// The previous window's count and the limit it was spent under.
    private var usedBefore = 0
    private var limitBefore = Int.max
    /// The limit in force at this window's last call.
    private var limitNow = Int.max

    package init(limit: Int, window: Int64, margin: Int64 = 0) {
        precondition(limit >= 0 && window > 0, "validated by RateLimitPolicy")
        self.limit = limit
        self.nextLimit = limit
        self.window = window
        self.margin = min(max(0, margin), window / 4)
    }

    package mutating func tryAcquire(at now: Int64) -> LimitDecision {
        let index = now.floorDivided(by: window)
        if index != windowIndex {
            advance(to: index)
        }
        let offset = now - index * window
        guard used < limit else { return .refused(retryAt: (index + 1) * window + (usedNext < nextLimit ? 0 : margin)) }
        let first = margin > 0 && offset < margin
        let last = margin > 0 && offset >= window - margin
        if first && usedBefore >= limitBefore { return .refused(retryAt: index * window + margin) }
        if last && usedNext >= nextLimit { return .refused(retryAt: (index + 1) * window + margin) }
        used += 1
        if first { usedBefore += 1 }
        if last { usedNext += 1 }
        limitNow = limit
        return .allowed
    }

    private mutating func advance(to index: Int64) {
        if index == windowIndex &+ 1 {
            (usedBefore, limitBefore) = (used, limitNow)
            used = usedNext
        } else {
            (usedBefore, limitBefore) = (index == windowIndex &+ 2 ? usedNext : 0, Int.max)
            used = 0
        }
        usedNext = 0
        limitNow = limit
        windowIndex = index
    }

    /// The calls counted in the window holding `now`.
    package func used(at now: Int64) -> Int {
        let index = now.floorDivided(by: window)
        if index == windowIndex { return used }
        if index == windowIndex &+ 1 { return usedNext }
        return 0
    }

    /// Takes back the permit of a call allowed at `time` that did not go out after all.
    package mutating func undo(at time: Int64) {
        guard time.floorDivided(by: window) == windowIndex, used > 0 else { return }
        used -= 1
        let offset = time - windowIndex * window
        if margin > 0 && offset < margin && usedBefore > 0 { usedBefore -= 1 }
        if margin > 0 && offset >= window - margin && usedNext > 0 { usedNext -= 1 }
    }
}

extension Int64 {
    /// Division rounding towards negative infinity.
    package func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
