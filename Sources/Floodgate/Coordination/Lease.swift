/// Permits an instance holds from a ``GrantLedger`` grant: spent locally, with no Redis command, while its clock is
/// inside the grant's usage interval.
public struct Lease: Sendable, Hashable {
    /// The slot the grant's usage starts in.
    public let startSlot: Int64
    /// Permits not spent yet.
    public private(set) var remaining: Int

    public init(startSlot: Int64, permits: Int) {
        self.startSlot = startSlot
        self.remaining = permits
    }

    /// Spends one permit if the lease is usable at `time` under `ledger` and not used up.
    public mutating func take(at time: Int64, under ledger: GrantLedger) -> Bool {
        guard remaining > 0, ledger.isUsable(startSlot: startSlot, at: time) else { return false }
        remaining -= 1
        return true
    }

    /// Puts back one permit taken at `time` (while the lease was usable) for a call that did not go out.
    public mutating func giveBack(at time: Int64, under ledger: GrantLedger) {
        if ledger.isUsable(startSlot: startSlot, at: time) { remaining += 1 }
    }
}
