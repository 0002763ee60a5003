/// At most `limit` calls in any interval of length `window`, counted in `slots` slots of `window / slots`.
///
/// A call at time `t` is allowed only if the calls in the slot holding `t` and the `slots` slots before it stay under
/// the limit. Any interval of length `window` lies within `slots + 1` consecutive slots, so no interval ever holds
/// more than `limit` calls: exact, at the price of a window effectively one slot longer. The counts live in a ring
/// allocated once per key.
package struct RollingWindowCounter: Sendable, Hashable {
    package var limit: Int
    package let slotLength: Int64
    private var counts: [Int32]
    /// The slot index whose count is at `counts[slotIndex % counts.count]`; older entries are stale.
    private var newestSlot: Int64 = .min
    private var total = 0

    package init(limit: Int, window: Int64, slots: Int = 60) {
        precondition(limit >= 0 && window > 0 && slots > 0, "validated by RateLimitPolicy")
        self.limit = limit
        self.slotLength = max(1, window / Int64(slots))
        self.counts = Array(repeating: 0, count: slots + 1)
    }

    package mutating func tryAcquire(at now: Int64) -> LimitDecision {
        let slot = now.floorDivided(by: slotLength)
        advance(to: slot)
        guard total < limit else { return .refused(retryAt: retryTime(currentSlot: slot)) }
        counts[ringIndex(slot)] += 1
        total += 1
        return .allowed
    }

    /// The calls counted in the window ending at `now` (without moving the ring).
    package func used(at now: Int64) -> Int {
        let slot = now.floorDivided(by: slotLength)
        guard newestSlot != .min, slot - newestSlot < Int64(counts.count) else { return 0 }
        var sum = 0
        var counted = max(newestSlot - Int64(counts.count) + 1, slot - Int64(counts.count) + 1)
        while counted <= newestSlot {
            sum += Int(counts[ringIndex(counted)])
            counted += 1
        }
        return sum
    }

    /// Takes back the permit of a call allowed at `time` that did not go out after all.
    package mutating func undo(at time: Int64) {
        let slot = time.floorDivided(by: slotLength)
        guard slot <= newestSlot, newestSlot - slot < Int64(counts.count), counts[ringIndex(slot)] > 0 else { return }
        counts[ringIndex(slot)] -= 1
        total -= 1
    }

    /// Moves the ring forward to `slot`, forgetting slots that fell out of the window.
    private mutating func advance(to slot: Int64) {
        if newestSlot == .min || slot - newestSlot >= Int64(counts.count) {
            for index in counts.indices { counts[index] = 0 }
            total = 0
        } else if slot > newestSlot {
            var expired = newestSlot + 1
            while expired <= slot {
                let index = ringIndex(expired)
                total -= Int(counts[index])
                counts[index] = 0
                expired += 1
            }
        }
        if slot > newestSlot { newestSlot = slot }
    }

    /// The first slot start at which the oldest counted calls leave the window.
    private func retryTime(currentSlot: Int64) -> Int64 {
        let oldest = currentSlot - Int64(counts.count) + 1
        var freed = 0
        var slot = oldest
        while slot <= currentSlot {
            freed += Int(counts[ringIndex(slot)])
            if total - freed < limit { return (slot + Int64(counts.count)) * slotLength }
            slot += 1
        }
        return (currentSlot + 1) * slotLength
    }

    private func ringIndex(_ slot: Int64) -> Int {
        let size = Int64(counts.count)
        return Int((slot % size + size) % size)
    }
}
