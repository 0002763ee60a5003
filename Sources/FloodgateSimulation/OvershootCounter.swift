import Floodgate

/// Counts calls allowed beyond a limit: for a fixed window, the calls past the limit in each aligned window; for a
/// rolling window, each call that, when it was allowed, made the window ending at it hold more than the limit.
public struct OvershootCounter: Sendable {
    public init() {}

    /// `times` in nanoseconds, any order.
    public func fixed(_ times: [Int64], limit: Int, window: Int64) -> Int {
        var perWindow: [Int64: Int] = [:]
        for time in times { perWindow[time.floorDivided(by: window), default: 0] += 1 }
        return perWindow.values.reduce(0) { $0 + max(0, $1 - limit) }
    }

    /// `times` in nanoseconds, any order. A window is the half-open interval `(t − window, t]`.
    public func rolling(_ times: [Int64], limit: Int, window: Int64) -> Int {
        let sorted = times.sorted()
        var start = 0
        var over = 0
        for end in sorted.indices {
            while sorted[end] - sorted[start] >= window { start += 1 }
            if end - start + 1 > limit { over += 1 }
        }
        return over
    }
}
