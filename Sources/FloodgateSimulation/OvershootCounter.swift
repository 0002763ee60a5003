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

    /// Calls allowed beyond `policy`: fixed and rolling windows as above; a token bucket by replaying an exact
    /// bucket (a call finding less than one token is over); a concurrency limit never (replayed calls take no time).
    public func overshoot(_ times: [Int64], policy: RateLimitPolicy) -> Int {
        switch policy {
        case .fixedWindow(let limit, let window): return fixed(times, limit: limit, window: window.nanoseconds)
        case .rollingWindow(let limit, let window): return rolling(times, limit: limit, window: window.nanoseconds)
        case .tokenBucket(let rate, let period, let burst): return bucket(times, rate: rate, period: period.nanoseconds, burst: burst)
        case .concurrency: return 0
        }
    }

    /// `times` in nanoseconds, any order: calls that found less than one token in a bucket of `burst` tokens
    /// refilled at `rate` per `period` (they take none).
    public func bucket(_ times: [Int64], rate: Int, period: Int64, burst: Int) -> Int {
        var tokens = Double(burst)
        var last: Int64?
        var over = 0
        for time in times.sorted() {
            if let last { tokens = min(Double(burst), tokens + Double(time - last) * Double(rate) / Double(period)) }
            last = time
            if tokens >= 1 - 1e-9 { tokens -= 1 } else { over += 1 }
        }
        return over
    }
}
