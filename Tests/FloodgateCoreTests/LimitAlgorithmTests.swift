@testable import FloodgateCore
import Testing

/// The local limit algorithms on explicit times: random schedules, then every window is checked.
@Suite("Limit algorithms", .timeLimit(.minutes(3)))
struct LimitAlgorithmTests {
    static let second: Int64 = 1_000_000_000

    /// Sorted random call times over `span`, in bursts and lulls, from a seeded generator.
    static func schedule(seed: UInt64, calls: Int, span: Int64) -> [Int64] {
        var generator = SeededGenerator(seed: seed)
        var times: [Int64] = []
        var t: Int64 = 1_700_000_000 * second
        while times.count < calls {
            let burst = Int.random(in: 1...30, using: &generator)
            for _ in 0..<burst { times.append(t + Int64.random(in: 0...(second / 10), using: &generator)) }
            t += Int64.random(in: 0...(span / Int64(calls) * 20), using: &generator)
        }
        return times.sorted()
    }

    @Test(arguments: 0..<20)
    func fixedWindowNeverExceedsTheLimitInAnyAlignedWindow(seed: UInt64) {
        var counter = FixedWindowCounter(limit: 50, window: 60 * Self.second)
        var allowedPerWindow: [Int64: Int] = [:]
        for time in Self.schedule(seed: seed, calls: 3_000, span: 3_600 * Self.second) {
            let window = time.floorDivided(by: 60 * Self.second)
            switch counter.tryAcquire(at: time) {
            case .allowed:
                allowedPerWindow[window, default: 0] += 1
            case .refused(let retryAt):
                #expect(allowedPerWindow[window] == 50, "refused only when the window is full")
                #expect(retryAt == (window + 1) * 60 * Self.second)
            }
        }
        #expect(allowedPerWindow.values.allSatisfy { $0 <= 50 })
    }

    @Test(arguments: 0..<20)
    func rollingWindowNeverExceedsTheLimitInAnyInterval(seed: UInt64) {
        let window = 10 * Self.second
        var counter = RollingWindowCounter(limit: 100, window: window, slots: 10)
        var allowed: [Int64] = []
        var refusals = 0
        for time in Self.schedule(seed: seed, calls: 5_000, span: 600 * Self.second) {
            switch counter.tryAcquire(at: time) {
            case .allowed: allowed.append(time)
            case .refused(let retryAt):
                refusals += 1
                #expect(retryAt > time)
            }
        }
        // Any interval of length `window` that ends at an allowed call holds at most `limit` allowed calls.
        var start = 0
        for end in allowed.indices {
            while allowed[end] - allowed[start] >= window { start += 1 }
            #expect(end - start + 1 <= 100)
        }
        #expect(refusals > 0, "the schedule does hit the limit")
        #expect(allowed.count > 1_000, "and the counter does not starve it")
    }

    @Test func rollingWindowRetryTimeIsWhenCapacityReturns() {
        let window = 10 * Self.second
        var counter = RollingWindowCounter(limit: 3, window: window, slots: 10)
        let start: Int64 = 1_000 * Self.second
        for _ in 0..<3 { #expect(counter.tryAcquire(at: start) == .allowed) }
        guard case .refused(let retryAt) = counter.tryAcquire(at: start + Self.second) else {
            Issue.record("the fourth call must be refused")
            return
        }
        #expect(counter.tryAcquire(at: retryAt - 1) != .allowed)
        #expect(counter.tryAcquire(at: retryAt) == .allowed)
    }

    @Test(arguments: 0..<20)
    func tokenBucketHoldsRateAndBurstInEveryInterval(seed: UInt64) {
        let period = Self.second
        var bucket = TokenBucket(rate: 5, period: period, burst: 10)
        var allowed: [Int64] = []
        for time in Self.schedule(seed: seed, calls: 4_000, span: 300 * Self.second) {
            switch bucket.tryAcquire(at: time) {
            case .allowed: allowed.append(time)
            case .refused(let retryAt):
                #expect(retryAt > time)
                var probe = bucket
                #expect(probe.tryAcquire(at: retryAt) == .allowed, "a call at the retry time gets through")
            }
        }
        // GCRA: in any interval of length d, at most burst + d / interval calls.
        let interval = period / 5
        for first in stride(from: 0, to: allowed.count, by: 7) {
            for last in first..<min(allowed.count, first + 60) {
                let span = allowed[last] - allowed[first]
                #expect(Int64(last - first + 1) <= 10 + span / interval)
            }
        }
    }
}

