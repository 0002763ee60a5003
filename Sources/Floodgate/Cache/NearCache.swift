/// The in-process tier of ``ResponseCache``: entries bounded by count and by bytes, each with its own expiry, evicted
/// by CLOCK (second chance).
///
/// Every entry has a reference bit, set on each hit. To make room, the clock hand sweeps the ring: an entry whose bit
/// is set gets a second chance (the bit is cleared), the first one found with the bit clear is evicted, and expired
/// entries go first. A key read again before the hand comes round survives, so hot keys stay while one-off keys
/// leave: close to LRU's hit ratio, with no list to reorder on a hit (a hit writes one bit, and allocates nothing).
struct NearCache: Sendable {
    /// A cached value, or a remembered miss (`value == nil`).
    struct Entry: Sendable {
        var key: String
        var value: (any Sendable)?
        var bytes: Int
        /// Fresh until (nanoseconds since 1970).
        var expiresAt: Int64
        /// Served stale (while one reload runs) until.
        var staleUntil: Int64
        var referenced: Bool
    }

    /// What a lookup found.
    enum Lookup {
        case fresh((any Sendable)?)
        /// Expired but within its stale-while-revalidate time.
        case stale((any Sendable)?)
        case miss
    }

    let maximumEntries: Int
    let maximumBytes: Int
    private(set) var bytes = 0
    private var index: [String: Int] = [:]
    private var ring: [Entry?]
    private var hand = 0
    /// Free slots of the ring (after removals).
    private var free: [Int]

    init(maximumEntries: Int, maximumBytes: Int) {
        self.maximumEntries = maximumEntries
        self.maximumBytes = maximumBytes
        ring = Array(repeating: nil, count: maximumEntries)
        free = Array((0..<maximumEntries).reversed())
        index.reserveCapacity(maximumEntries)
    }

    var count: Int { index.count }

    /// Looks `key` up at `now`, marking it referenced.
    mutating func lookup(_ key: String, at now: Int64) -> Lookup {
        guard let slot = index[key] else { return .miss }
        // Field by field: copying the whole entry would retain its key and value for nothing.
        ring[slot]!.referenced = true
        if now < ring[slot]!.expiresAt { return .fresh(ring[slot]!.value) }
        if now < ring[slot]!.staleUntil { return .stale(ring[slot]!.value) }
        remove(key)
        return .miss
    }

    /// Stores a value (or a remembered miss) of `bytes` bytes, evicting as needed. A value larger than the whole
    /// cache is not stored.
    mutating func insert(_ key: String, value: (any Sendable)?, bytes: Int, expiresAt: Int64, staleUntil: Int64, at now: Int64) {
        remove(key)
        guard bytes <= maximumBytes, maximumEntries > 0 else { return }
        while free.isEmpty || self.bytes + bytes > maximumBytes { evictOne(at: now) }
        let slot = free.removeLast()
        ring[slot] = Entry(key: key, value: value, bytes: bytes, expiresAt: expiresAt, staleUntil: max(expiresAt, staleUntil), referenced: false)
        index[key] = slot
        self.bytes += bytes
    }

    mutating func remove(_ key: String) {
        guard let slot = index.removeValue(forKey: key) else { return }
        bytes -= ring[slot]!.bytes
        ring[slot] = nil
        free.append(slot)
    }

    mutating func removeAll() {
        index.removeAll(keepingCapacity: true)
        for slot in ring.indices { ring[slot] = nil }
        free = Array((0..<maximumEntries).reversed())
        bytes = 0
    }

    /// Advances the hand to the first entry without a second chance (or expired) and evicts it.
    private mutating func evictOne(at now: Int64) {
        while true {
            defer { hand = (hand + 1) % ring.count }
            guard let entry = ring[hand] else { continue }
            if entry.referenced && now < entry.staleUntil {
                ring[hand]!.referenced = false
                continue
            }
            remove(entry.key)
            return
        }
    }
}
