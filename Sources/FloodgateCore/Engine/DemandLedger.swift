/// The fleet's record, in Redis, of who holds what of one window policy of one key: a hash with one entry per
/// instance that holds an explicit lease (capacity sized to its demand) or has ceded its allowance.
///
/// Every member that is past its joining wait has an *allowance* it may spend with no command (``PolicyPlan``'s
/// `allowanceTotal` over the members it counts). An instance that needs more writes an entry: `k` calls per window
/// until a time, in place of its allowance. The script admits it only as far as
///
///     Σ others' contributions + (allowances that may still be spent) + own contribution ≤ limit
///
/// holds for every window the lease can touch, where a contribution is what a holder can spend in any window its
/// entry reaches (`max(k, what it had spent when it wrote)`), and the allowances that may be spent are bounded by the
/// members eligible for one and the eligible holders whose entries cover the lease (they spend no allowance). See
/// `docs/ARCHITECTURE.md` for the argument. Entries are values tagged with their own times; key expiry only collects
/// garbage. One request costs `EVALSHA` + `HGETALL` + `HSET` (+ `PEXPIRE` about once per key TTL, + `PUBLISH` when it
/// asks the fleet to cede).
package struct DemandLedger: Sendable, Hashable {
    package enum Kind: Sendable, Hashable {
        /// Aligned windows: a lease covers whole windows (it ends at a window's end).
        case fixed
        /// Rolling windows (and token buckets counted as one).
        case rolling
    }

    package let kind: Kind
    /// Calls per window.
    package let limit: Int
    /// The part of the limit handed out as allowances (spent with no command).
    package let allowanceTotal: Int
    /// Up to this many members, an allowance is at least one permit even where `allowanceTotal / n` rounds to 0
    /// (see ``allowance(members:)``); 0 for none.
    package let onePermitEachUpTo: Int
    /// The window in nanoseconds.
    package let window: Int64
    /// The clock-skew bound in nanoseconds (each clock within this of real time).
    package let skew: Int64

    package init(kind: Kind, limit: Int, allowanceTotal: Int, onePermitEachUpTo: Int = 0, window: Int64, skew: Int64) {
        precondition(limit >= 0 && allowanceTotal >= 0 && allowanceTotal <= limit && window > 0 && skew >= 0)
        precondition(onePermitEachUpTo >= 0 && onePermitEachUpTo <= limit)
        self.kind = kind
        self.limit = limit
        self.allowanceTotal = allowanceTotal
        self.onePermitEachUpTo = onePermitEachUpTo
        self.window = window
        self.skew = skew
    }

    /// The allowance of a member that counts `n` members: `⌊allowanceTotal / n⌋`, and at least one permit while
    /// `n ≤ onePermitEachUpTo`, so that a fleet larger than its share of a small limit still decides a key's sparse
    /// calls with no command (40 instances on a limit of 50 each hold one). It never grows with `n`, which is what
    /// the script's bound on the allowances that may be spent relies on.
    package func allowance(members n: Int) -> Int {
        max(allowanceTotal / max(1, n), n <= onePermitEachUpTo ? 1 : 0)
    }

    /// How long a lease asked for at `time` lasts under contention: to the end of the window (fixed; at most a
    /// minute into a long one), or a window (rolling; at most a minute), so that capacity moves to where the calls
    /// are within a window and a key that runs hot costs about one request per instance per window. Without
    /// contention a lease lasts as long as a commitment (``cedeEnd(at:)``): a key that merely outgrew its allowance
    /// costs one request every ten windows.
    package func leaseEnd(at time: Int64) -> Int64 {
        let horizon: Int64 = 60_000_000_000
        switch kind {
        case .fixed:
            let end = (time.floorDivided(by: window) + 1) * window
            return end - time <= horizon ? end : time + horizon
        case .rolling:
            return time + min(window, horizon)
        }
    }

    /// For fixed windows: calls a holder whose lease ends at a window's end may make in that window's last
    /// skew-margin and count into the next window too (its clock may be ahead of real time), also what the ledger
    /// counts of it in the next window until it writes again.
    package func carry(of calls: Int) -> Int {
        guard kind == .fixed, calls > 0 else { return 0 }
        let skewMs = (skew + 999_999) / 1_000_000
        let windowMs = max(1, window / 1_000_000)
        return Int(Int64(calls) * 4 * skewMs / windowMs) + 1
    }

    /// How long a ceded allowance stays ceded: ten leases, so a key that stays hot costs a cede per instance every
    /// ten windows (fixed windows: to a window's end).
    package func cedeEnd(at time: Int64) -> Int64 {
        switch kind {
        case .fixed:
            let span = min(window * 10, max(window, 600_000_000_000))
            let end = (time + span).floorDivided(by: window) * window
            return max(end, leaseEnd(at: time))
        case .rolling:
            return time + 10 * min(window, 60_000_000_000)
        }
    }

    /// What one request says.
    package struct Request: Sendable, Hashable {
        /// The requesting instance.
        package var holder: String
        /// The holder's clock now, the lease's end (no new call after it), and the end of the holder's commitment to
        /// spend no allowance (nanoseconds since 1970).
        package var now: Int64
        package var until: Int64
        package var committedUntil: Int64
        /// Calls per window wanted (0: cede, keep only what was spent).
        package var want: Int
        /// Calls the holder has spent in the window ending now (fixed: in the window holding now).
        package var used: Int
        /// Calls per window the holder is offered (for fair shares under contention).
        package var demand: Int
        /// When the holder joined the fleet, and how long a member waits before it has an allowance.
        package var joinedAt: Int64
        package var eligibilityWait: Int64
        /// Members of the holder's view that may be eligible for an allowance before the lease ends (only these
        /// can count as committed: a member the holder does not count might not be counted by the spenders either).
        package var eligibleMembers: [String]
        /// The holder is leaving: it spends nothing after this entry (what it spent is the entry's contribution).
        package var leaving = false
        /// The channel to ask the fleet to cede on (nil: never ask), and the ask's first words
        /// (``FleetEvent/cedeAsk(scope:index:)``; the script adds how short it is, the members that may cede and the
        /// holder).
        package var cedeChannel: String?
        package var cedeMessage: String

        package init(
            holder: String,
            now: Int64,
            until: Int64,
            committedUntil: Int64,
            want: Int,
            used: Int,
            demand: Int,
            joinedAt: Int64,
            eligibilityWait: Int64,
            eligibleMembers: [String],
            cedeChannel: String? = nil,
            cedeMessage: String = ""
        ) {
            self.holder = holder
            self.now = now
            self.until = until
            self.committedUntil = max(until, committedUntil)
            self.want = want
            self.used = used
            self.demand = demand
            self.joinedAt = joinedAt
            self.eligibilityWait = eligibilityWait
            self.eligibleMembers = eligibleMembers
            self.cedeChannel = cedeChannel
            self.cedeMessage = cedeMessage
        }
    }

    /// What the ledger answered.
    package struct Grant: Sendable, Hashable {
        /// Calls per window the holder may spend until ``until`` (at least what it had spent).
        package var calls: Int
        package var until: Int64
        /// When capacity can next return if less than wanted was granted (refuse locally until then).
        package var retryAt: Int64
        /// Whether the fleet was asked to cede allowances it does not use.
        package var askedToCede: Bool
        /// Whether less was granted than wanted.
        package var short: Bool
        /// Whether allowances that may lie unused stood in the way (a cede could relieve it).
        package var cedeWouldHelp = false

        package init(calls: Int, until: Int64, retryAt: Int64, askedToCede: Bool, short: Bool, cedeWouldHelp: Bool = false) {
            self.calls = calls
            self.until = until
            self.retryAt = retryAt
            self.askedToCede = askedToCede
            self.short = short
            self.cedeWouldHelp = cedeWouldHelp
        }
    }
}
