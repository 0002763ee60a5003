import Floodgate
import Testing

/// How much an instance asks of the pool: more while a key lives on it, the base size otherwise.
@Suite("Lease holder grant sizes", .timeLimit(.minutes(3)))
struct LeaseHolderTests {
    static let minute: Int64 = 60_000_000_000
    let ledger = GrantLedger.fixed(limit: 14, window: .seconds(60), skew: .milliseconds(250))

    @Test func aKeyThatSpendsEveryGrantAsksForTwiceAsMuchUpToTheMaximum() {
        var holder = LeaseHolder()
        var sizes: [Int] = []
        let time = 100 * Self.minute + Self.minute / 2
        for _ in 0..<4 {
            let size = holder.nextGrantSize(base: 1, maximum: 3, startSlot: 100, under: ledger)
            sizes.append(size)
            // Granted in full and spent to the last permit.
            let received = holder.receive(size, startSlot: 100, at: time, under: ledger)
            #expect(received)
            for _ in 1..<size {
                let decision = holder.take(at: time, under: ledger)
                #expect(decision == .allowed)
            }
        }
        #expect(sizes == [1, 2, 3, 3])
        // The next window, right after: still hot.
        let asked1 = holder.nextGrantSize(base: 1, maximum: 3, startSlot: 101, under: ledger)
        #expect(asked1 == 3)
    }

    @Test func aLeaseLeftWithPermitsOrALongPauseStartsAgainFromTheBase() {
        var holder = LeaseHolder()
        let time = 100 * Self.minute + Self.minute / 2
        let asked2 = holder.nextGrantSize(base: 1, maximum: 3, startSlot: 100, under: ledger)
        #expect(asked2 == 1)
        let allowed3 = holder.receive(1, startSlot: 100, at: time, under: ledger)
        #expect(allowed3)
        let asked4 = holder.nextGrantSize(base: 1, maximum: 3, startSlot: 100, under: ledger)
        #expect(asked4 == 2)
        holder.install(2, startSlot: 100)
        // The window ends with both permits unused: back to the base.
        let asked5 = holder.nextGrantSize(base: 1, maximum: 3, startSlot: 101, under: ledger)
        #expect(asked5 == 1)
        let allowed6 = holder.receive(1, startSlot: 101, at: time + Self.minute, under: ledger)
        #expect(allowed6)
        // Spent, but the next need comes three windows later: the base again.
        let asked7 = holder.nextGrantSize(base: 1, maximum: 3, startSlot: 104, under: ledger)
        #expect(asked7 == 1)
    }
}
