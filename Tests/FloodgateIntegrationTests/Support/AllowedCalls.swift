/// What a test's allowed calls (their true times, nanoseconds, in order) amount to, per policy kind.
enum AllowedCalls {
    /// Calls in each aligned fixed window of `window` nanoseconds, by window index.
    static func perFixedWindow(_ times: [Int64], window: Int64) -> [Int64: Int] {
        var counts: [Int64: Int] = [:]
        for time in times { counts[time / window, default: 0] += 1 }
        return counts
    }

    /// The most calls in any interval shorter than `window` nanoseconds (a rolling window).
    static func busiestRolling(_ times: [Int64], window: Int64) -> Int {
        var start = 0
        var busiest = 0
        for end in times.indices {
            while times[end] - times[start] >= window { start += 1 }
            busiest = max(busiest, end - start + 1)
        }
        return busiest
    }
}
