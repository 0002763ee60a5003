/// The in-process tier of ``ResponseCache``: entries bounded by count and by bytes, each with its own expiry, evicted
/// by CLOCK (second chance).
///
/// Every entry has a reference bit, set on each hit. To make room, the clock hand sweeps the ring: an entry whose bit
/// is set gets a second chance (the bit is cleared), the first one found with the bit clear is evicted, and expired
/// entries go first. A key read again before the hand comes round survives, so hot keys stay while one-off keys
/// leave: close to LRU's hit ratio, with no list to reorder on a hit (a hit writes one bit, and allocates nothing).
struct NearCache: Sendable {
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
    // The ring as parallel arrays (a hit touches its bit, its times and its value, never copies its key).
    private var keys: [String?]
    /// A cached value, or a remembered miss (nil).
    private var values: [(any Sendable)?]
    private var sizes: [Int]
    /// Fresh until, and served stale (while one reload runs) until (nanoseconds since 1970).
    private var expiresAt: [Int64]
    private var staleUntil: [Int64]
    private var referenced: [Bool]
    private var hand = 0
    /// Free slots of the ring.
    private var free: [Int]

    init(maximumEntries: Int, maximumBytes: Int) {
        self.maximumEntries = maximumEntries
        self.maximumBytes = maximumBytes
        keys = Array(repeating: nil, count: maximumEntries)
        values = Array(repeating: nil, count: maximumEntries)
        sizes = Array(repeating: 0, count: maximumEntries)
        expiresAt = Array(repeating: 0, count: maximumEntries)
        staleUntil = Array(repeating: 0, count: maximumEntries)
        referenced = Array(repeating: false, count: maximumEntries)
        free = Array((0..<maximumEntries).reversed())
        index.reserveCapacity(maximumEntries)
    }

    var count: Int { index.count }

    /// Looks `key` up at `now`, marking it referenced.
    mutating func lookup(_ key: String, at now: Int64) -> Lookup {
        guard let slot = index[key] else { return .miss }
        referenced[slot] = true
        if now < expiresAt[slot] { return .fresh(values[slot]) }
        if now < staleUntil[slot] { return .stale(values[slot]) }
        remove(key)
        return .miss
    }

    /// Stores a value (or a remembered miss) of `bytes` bytes, evicting as needed. A value larger than the whole
    /// cache is not stored.
    mutating func insert(_ key: String, value: (any Sendable)?, bytes: Int, expiresAt expiry: Int64, staleUntil stale: Int64, at now: Int64) {
        remove(key)
        guard bytes <= maximumBytes, maximumEntries > 0 else { return }
        while free.isEmpty || self.bytes + bytes > maximumBytes { evictOne(at: now) }
        let slot = free.removeLast()
        keys[slot] = key
        values[slot] = value
        sizes[slot] = bytes
        expiresAt[slot] = expiry
        staleUntil[slot] = max(expiry, stale)
        referenced[slot] = false
        index[key] = slot
        self.bytes += bytes
    }

    mutating func remove(_ key: String) {
        guard let slot = index.removeValue(forKey: key) else { return }
        bytes -= sizes[slot]
        keys[slot] = nil
        values[slot] = nil
        free.append(slot)
    }

    mutating func removeAll() {
        index.removeAll(keepingCapacity: true)
        for slot in keys.indices {
            keys[slot] = nil
            values[slot] = nil
        }
        free = Array((0..<maximumEntries).reversed())
        bytes = 0
    }

    /// Advances the hand to the first entry without a second chance (or expired) and evicts it.
    private mutating func evictOne(at now: Int64) {
        while true {
            defer { hand = (hand + 1) % keys.count }
            guard let key = keys[hand] else { continue }
            if referenced[hand] && now < staleUntil[hand] {
                referenced[hand] = false
                continue
            }
            remove(key)
            return
        }
    }
}
