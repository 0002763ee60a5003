@testable import FloodgateCore
import Testing

/// The instance's side of a demand ledger and the skew margins of fixed windows, as pure state.
struct DemandLeaseTests {
    static let second: Int64 = 1_000_000_000
    static let ledger = DemandLedger(kind: .fixed, limit: 100, allowanceTotal: 72, window: 60 * second, skew: 250_000_000)

    @Test func asksForTwiceItsDemandUntilTheLedgerAnswersShortThenForTheDemandAndAQuarter() {
        var lease = DemandLease()
        for offset in 0..<20 { lease.offer(at: Int64(offset) * Self.second, window: 60 * Self.second) }
        #expect(lease.demand == 20)
        #expect(lease.want(used: 10, limit: 100) == 42)
        lease.install(
            DemandLedger.Grant(calls: 30, until: 60 * Self.second, retryAt: 61 * Self.second, askedToCede: true, short: true),
            used: 10, committedUntil: 600 * Self.second, at: 20 * Self.second
        )
        #expect(lease.contended)
        #expect(lease.want(used: 30, limit: 100) == 31, "one more than spent: the demand and a quarter is 26")
        #expect(lease.limit(allowance: 18, at: 30 * Self.second) == 30, "the lease's calls while it lasts")
        #expect(lease.limit(allowance: 18, at: 70 * Self.second) == 0, "nothing new while committed")
        #expect(lease.limit(allowance: 18, at: 601 * Self.second) == 18, "the allowance once the commitment ends")
        #expect(!lease.isRefused(at: 21 * Self.second), "it was granted more than it had spent")
        #expect(lease.demand == 20, "and demand is counted per window")
    }

    /// A limit smaller than the fleet's share of it still gives each member a permit, while that leaves half of what
    /// the share fraction keeps back; the allowance never grows with the members counted (the script's bound needs it).
    @Test func anAllowanceIsAtLeastOnePermitWhileTheLimitHasOneForEachMember() {
        let plan = PolicyPlan(.fixedWindow(limit: 50, window: .seconds(60)), fleetSize: 40, shareFraction: 0.75, skew: .zero)
        #expect(plan.allowanceTotal == 0, "⌊50 × 0.75 / 40⌋ = 0")
        #expect(plan.allowance(members: 40) == 1)
        #expect(plan.allowance(members: 43) == 1, "⌊50 × 1.75 / 2⌋ = 43")
        #expect(plan.allowance(members: 44) == 0, "44 permits would leave 6 of 50 to lease")
        let small = PolicyPlan(.rollingWindow(limit: 5, window: .seconds(60)), fleetSize: 4, shareFraction: 0.75, skew: .zero)
        #expect((1...4).map { small.allowance(members: $0) } == [1, 1, 1, 1], "chat.postMessage's 5 on 4 instances")
        let usual = PolicyPlan(.fixedWindow(limit: 50, window: .seconds(60)), fleetSize: 4, shareFraction: 0.75, skew: .zero)
        #expect((1...6).map { usual.allowance(members: $0) } == [36, 18, 12, 9, 7, 6], "⌊36 / n⌋ where it is 1 or more")
        for plan in [plan, small, usual] {
            let allowances = (1...60).map { plan.allowance(members: $0) }
            #expect(zip(allowances, allowances.dropFirst()).allSatisfy { $0 >= $1 }, "never grows with n")
        }
        let none = PolicyPlan(.fixedWindow(limit: 5, window: .seconds(60)), fleetSize: 4, shareFraction: 0, skew: .zero)
        #expect(none.allowance(members: 1) == 0, "a share fraction of 0 hands out nothing")
        let pool = PolicyPlan(.concurrency(limit: 5, leaseTimeout: .seconds(30)), fleetSize: 4, shareFraction: 0.75, skew: .zero)
        #expect(pool.allowance(members: 2) == 0, "a concurrency limit's pool is sized to its allowance total")
    }

    /// In a fleet with more members than the limit has calls for each, an instance that sees a call now and then asks
    /// for its even slice, not twice its demand: forty instances asking for four each would want 160 of 50.
    @Test func aSparseAskWithoutContentionGoesBeyondTheLeanAskOnlyUpToTheEvenSlice() {
        var sparse = DemandLease()
        sparse.offer(at: 0, window: 60 * Self.second)
        #expect(sparse.want(used: 0, limit: 50) == 4, "twice the demand and two")
        #expect(sparse.want(used: 0, limit: 50, slice: 2) == 2, "⌈50 / 40⌉ = 2")
        #expect(sparse.want(used: 3, limit: 50, slice: 2) == 4, "always one more than spent")
        var busy = DemandLease()
        for offset in 0..<20 { busy.offer(at: Int64(offset) * Self.second, window: 60 * Self.second) }
        #expect(busy.want(used: 0, limit: 100, slice: 40) == 40, "a demand of 20 is half a slice of 40: the slice")
        #expect(busy.want(used: 0, limit: 100, slice: 13) == 42, "past half its slice (a burst): twice the demand")
    }

    @Test func aRequestFreezesWhatWasSpentUntilTheLedgerAnswers() {
        var lease = DemandLease()
        lease.begin(used: 7, committedUntil: 600 * Self.second, at: Self.second)
        #expect(lease.limit(allowance: 18, at: 2 * Self.second) == 7, "no window holds more than the entry will say")
        lease.install(
            DemandLedger.Grant(calls: 0, until: 60 * Self.second, retryAt: 60 * Self.second, askedToCede: false, short: true),
            used: 7, committedUntil: 600 * Self.second, at: Self.second
        )
        #expect(lease.isRefused(at: 59 * Self.second) && !lease.isRefused(at: 60 * Self.second), "refused locally until capacity can return")
        #expect(lease.limit(allowance: 18, at: 2 * Self.second) == 7)
    }

    @Test func aCedeGivesTheAllowanceUpAndKeepsWhatWasSpent() {
        var lease = DemandLease()
        lease.cede(used: 2, committedUntil: 600 * Self.second, at: Self.second)
        #expect(lease.isCommitted(at: 599 * Self.second) && !lease.isCommitted(at: 600 * Self.second))
        #expect(lease.limit(allowance: 18, at: 2 * Self.second) == 0)
        #expect(lease.nextLimit(allowance: 18, windowEnd: 60 * Self.second, ledger: Self.ledger, at: 2 * Self.second) == 0)
    }

    @Test func aLeaseEndingWithItsWindowCarriesWhatTheLedgerCountsIntoTheNext() {
        var lease = DemandLease()
        lease.install(
            DemandLedger.Grant(calls: 60, until: 60 * Self.second, retryAt: 0, askedToCede: false, short: false),
            used: 10, committedUntil: 600 * Self.second, at: Self.second
        )
        // ⌊60 × 4 × 250 ms / 60 s⌋ + 1 = 2 calls of the window's last margin may count into the next window.
        #expect(lease.nextLimit(allowance: 18, windowEnd: 60 * Self.second, ledger: Self.ledger, at: 59 * Self.second) == 2)
        #expect(Self.ledger.carry(of: 60) == 2)
    }

    @Test func aFixedWindowCountsCallsInItsSkewMarginsInBothWindows() {
        let margin: Int64 = 250_000_000
        var counter = FixedWindowCounter(limit: 3, window: 10 * Self.second, margin: margin)
        counter.nextLimit = 1
        #expect(counter.tryAcquire(at: 5 * Self.second) == .allowed)
        #expect(counter.tryAcquire(at: 10 * Self.second - margin) == .allowed, "the last margin, counted in the next window too")
        #expect(counter.tryAcquire(at: 10 * Self.second - 1) != .allowed, "the next window allows one such call")
        // The next window starts with the call it was given, and its first margin needs room in the previous one.
        #expect(counter.used(at: 10 * Self.second) == 1)
        #expect(counter.tryAcquire(at: 10 * Self.second) == .allowed, "the previous window had room: 2 of 3")
        #expect(counter.tryAcquire(at: 10 * Self.second + 1) != .allowed, "now it is full: 3 of 3")
        #expect(counter.tryAcquire(at: 10 * Self.second + margin) == .allowed, "past the margin, only this window counts")
        #expect(counter.used(at: 11 * Self.second) == 3)
    }
}
