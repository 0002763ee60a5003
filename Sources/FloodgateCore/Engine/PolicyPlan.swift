/// How one rate-limit policy is enforced fleet-wide in shared mode: which window it is counted in, the part of its
/// limit handed out as per-instance allowances (spent with no command), and the ledger that moves the rest — and
/// unused allowances — to the instances that need it.
///
/// `allowanceTotal` is `fleetSize × ⌊limit × shareFraction / fleetSize⌋`; an eligible member's allowance is
/// `allowanceTotal / n` for the `n` members it counts (see ``MembershipView``), and for a window policy at least one
/// permit while `n ≤ ⌊limit × (1 + shareFraction) / 2⌋`. Window policies take capacity beyond
/// the allowance from a ``DemandLedger`` as leases sized to demand; a concurrency policy's beyond-allowance permits
/// are leases of a pool of `limit − allowanceTotal` in a sorted set. A token bucket is counted as the rolling window
/// of `burst` calls per `burst` intervals: at most `burst + τ/interval` calls in any `τ`, never more than the bucket.
package struct PolicyPlan: Sendable, Hashable {
    package enum Kind: Sendable, Hashable {
        case fixed
        case rolling
        case concurrency
    }

    package let policy: RateLimitPolicy
    package let kind: Kind
    package let limit: Int
    /// The window in nanoseconds (for concurrency: the lease timeout, how long a permit can count).
    package let window: Int64
    package let allowanceTotal: Int
    /// The ledger of a window policy (nil for concurrency).
    package let ledger: DemandLedger?
    /// The clock-skew bound: fixed-window counters count calls this close to a window's edge in both windows.
    package let skew: Int64

    /// A concurrency policy's pool of leases beyond the allowances.
    package var poolLimit: Int { limit - allowanceTotal }

    /// The allowance of a member that counts `n` members: the ledger's rule for a window policy
    /// (``DemandLedger/allowance(members:)``), `⌊allowanceTotal / n⌋` for a concurrency limit, whose pool is sized to it.
    package func allowance(members n: Int) -> Int {
        ledger?.allowance(members: n) ?? allowanceTotal / max(1, n)
    }

    package init(_ policy: RateLimitPolicy, fleetSize: Int, shareFraction: Double, skew: Duration) {
        self.policy = policy
        self.skew = skew.nanoseconds
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
        allowanceTotal = min(limit, perInstance * fleetSize)
        // One permit each while that leaves half of what the share fraction keeps back to lease.
        let onePermitEachUpTo = shareFraction > 0 ? Int((Double(limit) * (1 + shareFraction) / 2).rounded(.down)) : 0
        ledger = kind == .concurrency ? nil : DemandLedger(
            kind: kind == .fixed ? .fixed : .rolling,
            limit: limit,
            allowanceTotal: allowanceTotal,
            onePermitEachUpTo: min(limit, onePermitEachUpTo),
            window: window,
            skew: skew.nanoseconds
        )
    }

    /// The counter of this instance's calls. In local-only mode `localShare` gives the instance's fixed share of a
    /// count; otherwise the limit is 0 until membership gives an allowance or the ledger a lease.
    package func makeShareCounter(localShare: ((Int) -> Int)?) -> ShareCounter {
        if let localShare, case .tokenBucket(let rate, let period, let burst) = policy {
            // Local-only: a real GCRA with the instance's share of the rate and of the burst.
            let rateShare = localShare(rate)
            guard rateShare > 0 else { return .inFlight(used: 0, limit: 0) }
            return .bucket(TokenBucket(rate: rateShare, period: period.nanoseconds, burst: max(1, localShare(burst))))
        }
        let limit = localShare?(self.limit) ?? 0
        switch kind {
        case .fixed: return .fixed(FixedWindowCounter(limit: limit, window: window, margin: skew))
        case .rolling: return .rolling(RollingWindowCounter(limit: limit, window: window))
        case .concurrency: return .inFlight(used: 0, limit: limit)
        }
    }
}
