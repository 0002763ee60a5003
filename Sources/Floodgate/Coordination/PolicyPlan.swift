/// How one rate-limit policy is enforced fleet-wide in shared mode: which window it is counted in, the part of its
/// limit handed out as per-instance shares, and the pool in Redis that the rest forms.
///
/// `shareTotal` is `fleetSize × ⌊limit × shareFraction / fleetSize⌋`; an instance's share is `shareTotal / n` for the
/// `n` members it must count (see ``MembershipView``), so the shares in use never add up to more than `shareTotal`.
/// The pool is `limit − shareTotal`, granted by a ``GrantLedger``. A token bucket is counted as the rolling window of
/// `burst` calls per `burst` intervals: at most `burst + τ/interval` calls in any `τ`, never more than the bucket.
struct PolicyPlan: Sendable, Hashable {
    enum Kind: Sendable, Hashable {
        case fixed
        case rolling
        case concurrency
    }

    let policy: RateLimitPolicy
    let kind: Kind
    let limit: Int
    /// The window in nanoseconds (for concurrency: the lease timeout, how long a permit can count).
    let window: Int64
    let shareTotal: Int
    /// The pool's ledger (windows with a pool only).
    let ledger: GrantLedger?
    /// Permits asked of the pool by a first grant, and at most by any (see ``LeaseHolder``): half an instance's fair
    /// part of the pool (at most ``firstGrantCap``), and all of it.
    let grantSize: Int
    let maximumGrantSize: Int

    var poolLimit: Int { limit - shareTotal }

    /// The largest first grant.
    static let firstGrantCap = 16

    init(_ policy: RateLimitPolicy, fleetSize: Int, shareFraction: Double, skew: Duration) {
        self.policy = policy
        switch policy {
        case .fixedWindow(let limit, let window):
            (kind, self.limit, self.window) = (.fixed, limit, window.nanoseconds)
        case .rollingWindow(let limit, let window):
            (kind, self.limit, self.window) = (.rolling, limit, window.nanoseconds)
        case .tokenBucket(let rate, let period, let burst):
            let interval = max(1, period.nanoseconds / Int64(rate))
            (kind, self.limit, self.window) = (.rolling, burst, interval * Int64(burst))
        case .concurrency(let limit, let leaseTimeout):
            (kind, self.limit, self.window) = (.concurrency, limit, leaseTimeout.nanoseconds)
        }
        let perInstance = Int((Double(limit) * shareFraction / Double(fleetSize)).rounded(.down))
        shareTotal = min(limit, perInstance * fleetSize)
        let pool = limit - shareTotal
        switch kind {
        case _ where pool == 0, .concurrency:
            ledger = nil
        case .fixed:
            ledger = .fixed(limit: pool, window: .nanoseconds(window), skew: skew)
        case .rolling:
            ledger = .rolling(limit: pool, window: .nanoseconds(window), skew: skew)
        }
        // A first grant is small whatever the pool (permits granted and never spent are lost to the fleet until
        // their window passes); a key that keeps spending its grants doubles them up to its fair part.
        grantSize = max(1, min(Self.firstGrantCap, pool / (2 * fleetSize)))
        maximumGrantSize = max(grantSize, pool / fleetSize)
    }

    /// The counter of this instance's share-funded calls. In local-only mode `localShare` gives the instance's fixed
    /// share of a count; otherwise the limit is 0 until membership gives a share.
    func makeShareCounter(localShare: ((Int) -> Int)?) -> ShareCounter {
        if let localShare, case .tokenBucket(let rate, let period, let burst) = policy {
            // Local-only: a real GCRA with the instance's share of the rate and of the burst.
            let rateShare = localShare(rate)
            guard rateShare > 0 else { return .inFlight(used: 0, limit: 0) }
            return .bucket(TokenBucket(rate: rateShare, period: period.nanoseconds, burst: max(1, localShare(burst))))
        }
        let limit = localShare?(self.limit) ?? 0
        switch kind {
        case .fixed: return .fixed(FixedWindowCounter(limit: limit, window: window))
        case .rolling: return .rolling(RollingWindowCounter(limit: limit, window: window))
        case .concurrency: return .inFlight(used: 0, limit: limit)
        }
    }
}
