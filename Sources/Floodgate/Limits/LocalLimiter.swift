import Synchronization

/// Enforces rate limits on this instance alone: Floodgate's local-only mode (`SUSPEND_REDIS`, or Redis unreachable).
///
/// Each policy's limit is split among the fleet's `fleetSize` instances so that the shares add up to exactly the
/// limit (instance `i` gets `⌊L/N⌋`, plus one for the first `L mod N` instances): the fleet stays within every limit
/// with no coordination at all, at the price of idle shares. Concurrency limits are not handled here.
public final class LocalLimiter: Sendable {
    /// What this instance may do with one call.
    public enum Decision: Sendable, Hashable {
        case allowed
        /// Refused until this moment.
        case refused(retryAt: WallInstant)
    }

    private enum PolicyState: Sendable {
        case fixed(FixedWindowCounter)
        case rolling(RollingWindowCounter)
        case bucket(TokenBucket)
        /// A policy whose share for this instance is zero, or one not enforced locally.
        case closed
        case unenforced
    }

    private let fleetSize: Int
    private let instanceIndex: Int
    private let policies: @Sendable (GuardKey) -> [RateLimitPolicy]
    private let states = Mutex<[GuardKey: [PolicyState]]>([:])

    /// - Parameters:
    ///   - fleetSize: how many instances share the limits.
    ///   - instanceIndex: this instance's place in the fleet, `0..<fleetSize`.
    ///   - policies: the limits of a key (usually a ``ProviderProfile``'s `policies(for:)`).
    /// - Throws: ``FloodgateError`` `.invalidConfiguration` when the index is outside the fleet.
    public init(
        fleetSize: Int = 1,
        instanceIndex: Int = 0,
        policies: @escaping @Sendable (GuardKey) -> [RateLimitPolicy]
    ) throws {
        guard fleetSize > 0, (0..<fleetSize).contains(instanceIndex) else {
            throw FloodgateError(
                .invalidConfiguration,
                "instanceIndex \(instanceIndex) is outside a fleet of \(fleetSize) instances"
            )
        }
        self.fleetSize = fleetSize
        self.instanceIndex = instanceIndex
        self.policies = policies
    }

    /// This instance's share of a limit.
    public func share(of limit: Int) -> Int {
        limit / fleetSize + (instanceIndex < limit % fleetSize ? 1 : 0)
    }

    /// Decides a call on `key` at `time`: allowed only if every policy of the key allows it (a refusal by one policy
    /// takes back what the others granted).
    public func acquire(_ key: GuardKey, at time: WallInstant) -> Decision {
        let now = time.nanosecondsSince1970
        return states.withLock { states in
            // One hash lookup; the key's states are mutated in place.
            Self.decide(&states[key, default: policies(key).map(makeState)], at: now)
        }
    }

    private static func decide(_ entry: inout [PolicyState], at now: Int64) -> Decision {
        var taken = 0
        while taken < entry.count {
            if case .refused(let retryAt) = tryAcquire(&entry[taken], at: now) {
                for index in 0..<taken { undo(&entry[index], at: now) }
                return .refused(retryAt: WallInstant(nanosecondsSince1970: retryAt))
            }
            taken += 1
        }
        return .allowed
    }

    /// The number of keys with state (each holds a few counters; a rolling window a ring of 61).
    public var keyCount: Int { states.withLock { $0.count } }

    private func makeState(_ policy: RateLimitPolicy) -> PolicyState {
        switch policy {
        case .fixedWindow(let limit, let window):
            let mine = share(of: limit)
            return mine == 0 ? .closed : .fixed(FixedWindowCounter(limit: mine, window: window.nanoseconds))
        case .rollingWindow(let limit, let window):
            let mine = share(of: limit)
            return mine == 0 ? .closed : .rolling(RollingWindowCounter(limit: mine, window: window.nanoseconds))
        case .tokenBucket(let rate, let period, let burst):
            let mine = share(of: rate)
            return mine == 0 ? .closed : .bucket(TokenBucket(rate: mine, period: period.nanoseconds, burst: max(1, share(of: burst))))
        case .concurrency:
            return .unenforced
        }
    }

    private static func tryAcquire(_ state: inout PolicyState, at now: Int64) -> LimitDecision {
        switch state {
        case .fixed(var counter):
            state = .unenforced  // drop the enum's reference so the counter mutates in place
            defer { state = .fixed(counter) }
            return counter.tryAcquire(at: now)
        case .rolling(var counter):
            state = .unenforced
            defer { state = .rolling(counter) }
            return counter.tryAcquire(at: now)
        case .bucket(var bucket):
            state = .unenforced
            defer { state = .bucket(bucket) }
            return bucket.tryAcquire(at: now)
        case .closed:
            return .refused(retryAt: .max)
        case .unenforced:
            return .allowed
        }
    }

    private static func undo(_ state: inout PolicyState, at now: Int64) {
        switch state {
        case .fixed(var counter):
            state = .unenforced
            counter.undo(at: now)
            state = .fixed(counter)
        case .rolling(var counter):
            state = .unenforced
            counter.undo(at: now)
            state = .rolling(counter)
        case .bucket(var bucket):
            state = .unenforced
            bucket.undo()
            state = .bucket(bucket)
        case .closed, .unenforced:
            break
        }
    }
}
