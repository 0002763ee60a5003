import FloodgateRESP
import FloodgateRedis

/// The fleet's record, in Redis, of the permits granted for one window policy of one key.
///
/// Time is cut into slots of ``slotLength``. A grant is `k` permits usable during `usageSlots` consecutive slots
/// starting at a slot `a`; the ledger stores, per start slot, how many permits were granted (in a ring of hash fields,
/// each value tagged with its slot so a stale lap reads as zero). A grant is admitted only as far as every window of
/// `windowSlots + 1` consecutive slots that its usage can touch keeps the permits of all grants touching it within the
/// limit — so however the grants are spent inside their usage intervals, no interval of the policy's length ever holds
/// more than the limit. Clock skew up to ``skewSlots`` slots is absorbed by widening every usage interval by that much
/// on both sides. See `docs/ARCHITECTURE.md`.
///
/// One call costs one `EVALSHA` plus `HMGET`, `HSET` and `PEXPIRE` inside the script (when something is granted),
/// whatever the number of slots. The caller's time is an argument: no `TIME`, replayable on virtual time.
public struct GrantLedger: Sendable, Hashable {
    /// Slot length in nanoseconds.
    public let slotLength: Int64
    /// The policy's window in slots (0 for a fixed window: each slot is one provider window).
    public let windowSlots: Int
    /// How many slots a grant may be used in.
    public let usageSlots: Int
    /// Slots added on each side of a usage interval for clock skew.
    public let skewSlots: Int
    /// Permits per window.
    public let limit: Int
    /// For fixed windows: how far inside a window a holder's clock must be to use its permits (the skew bound), so
    /// that with clocks within the bound every use falls inside the window in real time. 0 for rolling windows.
    public let holderMargin: Int64

    /// The ledger for a rolling window of `limit` per `window`, cut into `slots` slots, grants usable for
    /// `leaseSlots` slots, clocks within `skew` of each other.
    public static func rolling(
        limit: Int,
        window: Duration,
        slots: Int = 60,
        leaseSlots: Int = 5,
        skew: Duration = .milliseconds(250)
    ) -> GrantLedger {
        let slotLength = max(1, window.nanoseconds / Int64(slots))
        let skewSlots = Int((skew.nanoseconds + slotLength - 1) / slotLength)
        return GrantLedger(
            slotLength: slotLength,
            windowSlots: slots,
            usageSlots: leaseSlots,
            skewSlots: skewSlots,
            limit: limit,
            holderMargin: 0
        )
    }

    /// The ledger for aligned windows of `window` (each slot one window). Skew is handled by the holder: it uses a
    /// window's permits only while its clock is at least `skew` inside that window (see ``Lease``).
    public static func fixed(limit: Int, window: Duration, skew: Duration = .milliseconds(250)) -> GrantLedger {
        GrantLedger(
            slotLength: window.nanoseconds,
            windowSlots: 0,
            usageSlots: 1,
            skewSlots: 0,
            limit: limit,
            holderMargin: skew.nanoseconds
        )
    }

    /// Whether a holder whose clock reads `time` may use permits granted from `startSlot`.
    public func isUsable(startSlot: Int64, at time: Int64) -> Bool {
        let current = slot(at: time)
        guard current >= startSlot && current < startSlot + Int64(usageSlots) else { return false }
        guard holderMargin > 0 else { return true }
        let offset = time - current * slotLength
        return offset >= holderMargin && offset < slotLength - holderMargin
    }

    /// For fixed windows: when a holder whose clock reads `time` is inside a window's skew margin (so no permit of
    /// any grant is usable), the moment permits become usable again; nil when they are usable now.
    public func marginEnd(at time: Int64) -> Int64? {
        guard holderMargin > 0 else { return nil }
        let current = slot(at: time)
        let offset = time - current * slotLength
        if offset < holderMargin { return current * slotLength + holderMargin }
        if offset >= slotLength - holderMargin { return (current + 1) * slotLength + holderMargin }
        return nil
    }

    /// Usage slots as recorded: widened by the skew on both sides.
    var recordedUsageSlots: Int { usageSlots + 2 * skewSlots }
    /// Fields in the ring: every slot the script reads, once.
    var ringSize: Int { 2 * (windowSlots + recordedUsageSlots) }
    /// How long the ledger matters after its last grant, in nanoseconds (then Redis may drop it: garbage only).
    var relevance: Int64 { Int64(windowSlots + 2 * recordedUsageSlots + 1) * slotLength }

    /// The slot holding `time` (nanoseconds since 1970).
    public func slot(at time: Int64) -> Int64 { time.floorDivided(by: slotLength) }

    /// Asks for up to `permits` permits usable from slot `start` for ``usageSlots`` slots; returns how many were
    /// granted (0 when the window is full).
    public func requestGrant(
        _ permits: Int,
        key: String,
        startSlot start: Int64,
        via redis: some RedisCommandSending
    ) async throws -> Int {
        precondition(permits > 0, "ask for at least one permit")
        let reply = try await redis.evaluate(
            Self.script,
            keys: [key],
            arguments: [
                String(start - Int64(skewSlots)), String(recordedUsageSlots), String(windowSlots), String(ringSize),
                String(limit), String(permits), String(max(1, relevance / 1_000_000) + 1_000),
            ]
        )
        let parts = try reply.elements()
        guard let granted = parts.first else { throw RedisClientError(.unexpectedReply, "grant script returned nothing") }
        return try granted.int()
    }

    /// Gives back `permits` unused permits of a grant that started at `startSlot`, so others may have them.
    public func returnPermits(
        _ permits: Int,
        key: String,
        startSlot start: Int64,
        via redis: some RedisCommandSending
    ) async throws {
        guard permits > 0 else { return }
        _ = try await redis.evaluate(
            Self.returnScript,
            keys: [key],
            arguments: [String(start - Int64(skewSlots)), String(ringSize), String(permits)]
        )
    }

    /// KEYS[1] ledger. ARGV: recorded start slot, recorded usage slots, window slots, ring size, limit, permits wanted,
    /// TTL in ms. Returns {granted, busiest window's permits after the grant}.
    static let script = RedisScript(
        """
        local a0 = tonumber(ARGV[1])
        local dw = tonumber(ARGV[2])
        local B = tonumber(ARGV[3])
        local R = tonumber(ARGV[4])
        local L = tonumber(ARGV[5])
        local k = tonumber(ARGV[6])
        local lo = a0 - B - dw + 1
        local hi = a0 + dw - 1 + B
        local fields = {}
        for s = lo, hi do fields[#fields + 1] = tostring(s % R) end
        local raw = redis.call('HMGET', KEYS[1], unpack(fields))
        local C = {}
        for i = 1, #raw do
          local n = 0
          local v = raw[i]
          if v then
            local sep = string.find(v, ':', 1, true)
            if tonumber(string.sub(v, 1, sep - 1)) == lo + i - 1 then n = tonumber(string.sub(v, sep + 1)) end
          end
          C[i] = n
        end
        local busiest = 0
        for j = a0 - B, a0 + dw - 1 do
          local sum = 0
          for x = j - dw + 1, j + B do sum = sum + C[x - lo + 1] end
          if sum > busiest then busiest = sum end
        end
        local grant = math.min(k, L - busiest)
        if grant <= 0 then return {0, busiest} end
        redis.call('HSET', KEYS[1], tostring(a0 % R), a0 .. ':' .. (C[a0 - lo + 1] + grant))
        redis.call('PEXPIRE', KEYS[1], ARGV[7])
        return {grant, busiest + grant}
        """
    )

    /// KEYS[1] ledger. ARGV: recorded start slot, ring size, permits to give back.
    static let returnScript = RedisScript(
        """
        local a0 = tonumber(ARGV[1])
        local field = tostring(a0 % tonumber(ARGV[2]))
        local v = redis.call('HGET', KEYS[1], field)
        if not v then return 0 end
        local sep = string.find(v, ':', 1, true)
        if tonumber(string.sub(v, 1, sep - 1)) ~= a0 then return 0 end
        local n = math.max(0, tonumber(string.sub(v, sep + 1)) - tonumber(ARGV[3]))
        redis.call('HSET', KEYS[1], field, a0 .. ':' .. n)
        return n
        """
    )
}
