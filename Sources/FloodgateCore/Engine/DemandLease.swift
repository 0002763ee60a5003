/// One instance's side of a ``DemandLedger`` for one policy of one key: whether it spends its allowance or an explicit
/// lease, the demand it has seen, and until when the ledger said no. Pure state over caller-supplied times.
///
/// The instance's counter of the policy runs with the lease's calls per window as its limit while the lease lasts;
/// after it, no new call until the commitment made with it ends (the ledger counts this instance as spending no
/// allowance until then); then with the allowance again.
package struct DemandLease: Sendable {
    /// Calls per window granted, and until when (local clock, nanoseconds since 1970); nil while on the allowance.
    package private(set) var lease: (calls: Int, until: Int64)?
    /// Until when this instance has told the ledger it spends no allowance.
    package private(set) var committedUntil: Int64 = .min
    /// Whether the ledger's last answer was short (others need the capacity too): then requests ask for what the
    /// demand needs, no more, and commit for longer so that the ledger can count this instance as spending no
    /// allowance while it renews.
    package private(set) var contended = false
    /// When this instance last asked the fleet to cede: it asks at most once a lease period, so a shortage nobody
    /// can relieve (allowances of members that just left) costs one ask, not one every retry.
    package private(set) var askedToCedeAt: Int64 = .min
    /// After the ledger granted less than wanted: refuse locally until this time.
    package private(set) var refusedUntil: Int64 = .min
    /// Calls offered (allowed or refused) in the current and the previous demand period.
    private var offeredNow = 0
    private var offeredBefore = 0
    private var period: Int64 = .min

    /// Whether the allowance is given up at `now` (a lease or a cede in force).
    package func isCommitted(at now: Int64) -> Bool { committedUntil > now }

    /// The counter's limit at `now`: the lease's calls while it lasts, nothing new while committed, the allowance
    /// otherwise.
    package func limit(allowance: Int, at now: Int64) -> Int {
        if let lease, lease.until > now { return lease.calls }
        return committedUntil > now ? 0 : allowance
    }

    /// When the limit changes next after `now` (the lease's or the commitment's end).
    package func limitChange(after now: Int64) -> Int64 {
        if let lease, lease.until > now { return lease.until }
        return committedUntil > now ? committedUntil : .max
    }

    /// For a fixed window ending at `windowEnd`: the limit for calls in its last skew margin that count into the
    /// next window too (what the next window's state will allow: the ledger's carry for a lease ending with this
    /// window, nothing while committed, the allowance otherwise).
    package func nextLimit(allowance: Int, windowEnd: Int64, ledger: DemandLedger, at now: Int64) -> Int {
        if let lease, lease.until > now {
            if lease.until > windowEnd { return lease.calls }
            return committedUntil > windowEnd ? ledger.carry(of: lease.calls) : allowance
        }
        if committedUntil > windowEnd { return 0 }
        return allowance
    }

    /// Counts a call offered at `now`, for the demand estimate (periods of `window`).
    package mutating func offer(at now: Int64, window: Int64) {
        let current = now.floorDivided(by: window)
        if current != period {
            offeredBefore = current == period + 1 ? offeredNow : 0
            offeredNow = 0
            period = current
        }
        offeredNow += 1
    }

    /// Calls per window this instance is offered: the larger of the last full period and the current one.
    package var demand: Int { max(offeredBefore, offeredNow) }

    /// Whether the ledger refused recently enough that the call should be refused locally.
    package func isRefused(at now: Int64) -> Bool { now < refusedUntil }

    /// Calls per window to ask for, having spent `used` of the window, at most the limit: under contention what the
    /// demand asks and a quarter more (so a growing key comes back after a quarter more calls, not at once; more
    /// would strand permits that others need); otherwise twice the demand, so a key that merely outgrew its
    /// allowance costs one request a window.
    ///
    /// `slice` is this member's part of the limit if the fleet shared it evenly (`⌈L / members⌉`): an instance whose
    /// demand is at most half its slice asks beyond the demand and a quarter only up to the slice, so that in a fleet
    /// with more members than the limit has calls for each, instances that each see a call now and then do not ask
    /// for more than the limit holds between them (forty asking for four of fifty). One nearer its slice, or past it
    /// (a burst), asks twice its demand.
    package func want(used: Int, limit: Int, slice: Int = .max) -> Int {
        let lean = demand + demand / 4 + 1
        let wanted = contended ? lean : demand <= slice / 2 ? max(lean, min(2 * demand + 2, slice)) : 2 * demand + 2
        return min(limit, max(1, used + 1, wanted))
    }

    /// Starts a request (a lease or a cede) that reports `used` calls: from now until the ledger answers, and on
    /// until `committedUntil` if it never does (its entry may have been written), no window holds more than `used`
    /// calls of this instance and no allowance is spent — what the entry will say.
    package mutating func begin(used: Int, committedUntil: Int64, at now: Int64) {
        lease = (used, committedUntil)
        self.committedUntil = max(self.committedUntil, committedUntil)
    }

    /// Installs the ledger's answer to a request made at `now`.
    package mutating func install(_ grant: DemandLedger.Grant, used: Int, committedUntil: Int64, at now: Int64) {
        lease = (max(grant.calls, used), grant.until)
        self.committedUntil = max(self.committedUntil, committedUntil)
        refusedUntil = grant.calls > used ? .min : grant.retryAt
        // A cede asked for a moment ago may still be landing: look again in 50 ms during the 200 ms after the ask,
        // then when another ask is allowed (a shortage nobody relieves costs a request a second, not twenty).
        if grant.calls <= used, grant.cedeWouldHelp, !grant.askedToCede {
            let soon = now &- askedToCedeAt < 200_000_000 ? now + 50_000_000 : askedToCedeAt &+ 1_000_000_000
            refusedUntil = min(refusedUntil, max(now + 50_000_000, soon))
        }
        contended = grant.askedToCede || grant.short
        if grant.askedToCede { askedToCedeAt = now }
    }

    /// Whether a request made at `now` may ask the fleet to cede (not within `period` of the last ask).
    package func mayAskToCede(at now: Int64, period: Int64) -> Bool { now >= askedToCedeAt &+ period }

    /// Notes that others need this policy's capacity too (a cede was asked): the next request asks for what the
    /// demand needs.
    package mutating func markContended() { contended = true }

    /// Refuses locally until `until`.
    package mutating func refuse(until: Int64) { refusedUntil = max(refusedUntil, until) }

    /// Installs a cede: no new call and no allowance until `committedUntil`.
    package mutating func cede(used: Int, committedUntil: Int64, at now: Int64) {
        lease = (used, now)
        self.committedUntil = max(self.committedUntil, committedUntil)
    }

}
