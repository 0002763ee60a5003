/// One instance's permits for one ledger: decides locally while it holds a usable lease, says when a grant is
/// needed, and after the ledger refused, refuses locally until the next slot (when capacity can first return), so an
/// overloaded key costs at most one refused request per instance per slot, not one per call. A key that lives on the
/// pool asks for more each time (see ``nextGrantSize(base:maximum:startSlot:under:)``), so it costs fewer grants.
public struct LeaseHolder: Sendable, Hashable {
    /// What to do with a call.
    public enum Decision: Sendable, Hashable {
        /// Allowed on a permit already held.
        case allowed
        /// No usable permit: ask the ledger for a grant starting at this slot.
        case needsGrant(startSlot: Int64)
        /// The ledger refused in this slot already: refused until this time (nanoseconds since 1970).
        case refused(retryAt: Int64)
    }

    /// The lease held, if any.
    public private(set) var lease: Lease?
    private var refusedInSlot: Int64?
    /// The size and start slot of the last grant asked for.
    private var lastAsked = 0
    private var lastStart: Int64 = .min

    public init() {}

    /// How many permits to ask for in a grant starting at `startSlot`: twice the last request (up to `maximum`) when
    /// the last lease was spent to its last permit and started within the ledger's usage interval before this one — the
    /// key lives on the pool — otherwise `base`, so permits a quiet instance would strand stay few.
    public mutating func nextGrantSize(base: Int, maximum: Int, startSlot: Int64, under ledger: GrantLedger) -> Int {
        let spent = (lease?.remaining ?? 0) == 0
        let recent = lastAsked > 0 && startSlot - lastStart <= Int64(ledger.usageSlots)
        let size = spent && recent ? min(max(base, maximum), max(base, 2 * lastAsked)) : base
        lastAsked = size
        lastStart = startSlot
        return size
    }

    /// Decides a call at local time `time`.
    public mutating func take(at time: Int64, under ledger: GrantLedger) -> Decision {
        if lease?.take(at: time, under: ledger) == true { return .allowed }
        // Inside a fixed window's skew margin nothing is usable: asking for a grant would only waste it.
        if let usable = ledger.marginEnd(at: time) { return .refused(retryAt: usable) }
        let slot = ledger.slot(at: time)
        if let refused = refusedInSlot, refused >= slot { return .refused(retryAt: (refused + 1) * ledger.slotLength) }
        return .needsGrant(startSlot: slot)
    }

    /// Installs what the ledger granted for a call at `time` and spends one permit of it for that call; returns
    /// whether the call is allowed.
    public mutating func receive(_ granted: Int, startSlot: Int64, at time: Int64, under ledger: GrantLedger) -> Bool {
        guard granted > 0 else {
            refusedInSlot = startSlot
            return false
        }
        refusedInSlot = nil
        var fresh = Lease(startSlot: startSlot, permits: granted)
        let allowed = fresh.take(at: time, under: ledger)
        lease = fresh
        return allowed
    }

    /// Installs what the ledger granted, without spending any of it (0 marks the slot as refused).
    public mutating func install(_ granted: Int, startSlot: Int64) {
        guard granted > 0 else {
            refusedInSlot = startSlot
            return
        }
        refusedInSlot = nil
        lease = Lease(startSlot: startSlot, permits: granted)
    }

    /// Gives back one permit taken at `time` for a call that did not go out after all.
    public mutating func giveBack(at time: Int64, under ledger: GrantLedger) {
        lease?.giveBack(at: time, under: ledger)
    }

    /// Drops the lease (returning its unused permits is the caller's choice) and returns it.
    public mutating func surrender() -> Lease? {
        defer { lease = nil }
        return lease
    }
}
