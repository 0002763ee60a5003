/// The calls an instance makes on its own share of one policy: a fixed or rolling window counter, a token bucket
/// (local-only mode), or an in-flight count (concurrency). Its limit follows the share as membership changes.
package enum ShareCounter: Sendable, Hashable {
    case fixed(FixedWindowCounter)
    case rolling(RollingWindowCounter)
    case bucket(TokenBucket)
    case inFlight(used: Int, limit: Int)

    package mutating func tryAcquire(at now: Int64) -> LimitDecision {
        switch self {
        case .fixed(var counter):
            self = .inFlight(used: 0, limit: 0)  // drop the enum's reference so the counter mutates in place
            defer { self = .fixed(counter) }
            return counter.tryAcquire(at: now)
        case .rolling(var counter):
            self = .inFlight(used: 0, limit: 0)
            defer { self = .rolling(counter) }
            return counter.tryAcquire(at: now)
        case .bucket(var bucket):
            self = .inFlight(used: 0, limit: 0)
            defer { self = .bucket(bucket) }
            return bucket.tryAcquire(at: now)
        case .inFlight(let used, let limit):
            guard used < limit else { return .refused(retryAt: .max) }
            self = .inFlight(used: used + 1, limit: limit)
            return .allowed
        }
    }

    /// Takes back a permit taken at `time` (for a call that did not go out), or releases a finished call's
    /// concurrency permit.
    package mutating func undo(at time: Int64) {
        switch self {
        case .fixed(var counter):
            self = .inFlight(used: 0, limit: 0)
            counter.undo(at: time)
            self = .fixed(counter)
        case .rolling(var counter):
            self = .inFlight(used: 0, limit: 0)
            counter.undo(at: time)
            self = .rolling(counter)
        case .bucket(var bucket):
            self = .inFlight(used: 0, limit: 0)
            bucket.undo()
            self = .bucket(bucket)
        case .inFlight(let used, let limit):
            self = .inFlight(used: max(0, used - 1), limit: limit)
        }
    }

    /// Sets the limit, and for fixed windows the next window's (for calls in the last skew margin); token buckets
    /// keep theirs: they exist only in local-only mode, where shares are fixed.
    package mutating func setLimit(_ limit: Int, next: Int? = nil) {
        switch self {
        case .fixed(var counter):
            self = .inFlight(used: 0, limit: 0)
            counter.limit = limit
            counter.nextLimit = next ?? limit
            self = .fixed(counter)
        case .rolling(var counter):
            self = .inFlight(used: 0, limit: 0)
            counter.limit = limit
            self = .rolling(counter)
        case .bucket:
            break
        case .inFlight(let used, _):
            self = .inFlight(used: used, limit: limit)
        }
    }

    /// What this counter has spent of its limit at `now` (nil for token buckets).
    package func usage(at now: Int64) -> (used: Int, limit: Int)? {
        switch self {
        case .fixed(let counter): (counter.used(at: now), counter.limit)
        case .rolling(let counter): (counter.used(at: now), counter.limit)
        case .inFlight(let used, let limit): (used, limit)
        case .bucket: nil
        }
    }

    /// Calls of a concurrency share still in flight (0 for windows).
    package var inFlight: Int {
        if case .inFlight(let used, _) = self { return used }
        return 0
    }
}
