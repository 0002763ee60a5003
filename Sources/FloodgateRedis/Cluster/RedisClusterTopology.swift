import FloodgateRESP

/// One Redis server's address.
public struct RedisNodeAddress: Hashable, Sendable, CustomStringConvertible, Comparable {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Reads `host:port` (the last colon splits, so IPv6 hosts work); nil when it is not one.
    public init?(_ text: some StringProtocol, defaultHost: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (1...65535).contains(port)
        else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.init(host: host.isEmpty || host == "?" ? defaultHost : host, port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    public static func < (lhs: Self, rhs: Self) -> Bool { (lhs.host, lhs.port) < (rhs.host, rhs.port) }
}

/// Which primary serves each of a cluster's 16,384 slots, and the replicas behind each, read from
/// `CLUSTER SHARDS` (Redis 7) or `CLUSTER SLOTS`.
public struct RedisClusterTopology: Sendable, Equatable {
    /// A primary, its replicas, and the slot ranges it serves.
    public struct Shard: Sendable, Equatable {
        public var primary: RedisNodeAddress
        public var replicas: [RedisNodeAddress]
        public var slots: [ClosedRange<Int>]
    }

    /// The shards that serve at least one slot, in a stable order.
    public private(set) var shards: [Shard]
    /// The index into `shards` of each slot's owner; -1 while a slot is not served.
    private var owners: [Int16]

    init(shards: [Shard]) {
        self.shards = []
        self.owners = Array(repeating: -1, count: RedisHashSlot.count)
        for shard in shards.sorted(by: { ($0.slots.first?.lowerBound ?? 0) < ($1.slots.first?.lowerBound ?? 0) }) {
            guard !shard.slots.isEmpty else { continue }
            if let existing = self.shards.firstIndex(where: { $0.primary == shard.primary }) {
                self.shards[existing].slots += shard.slots
                self.shards[existing].replicas = Array(Set(self.shards[existing].replicas + shard.replicas)).sorted()
            } else {
                self.shards.append(shard)
            }
            let index = Int16(self.shards.firstIndex { $0.primary == shard.primary }!)
            for range in shard.slots { for slot in range where slot < RedisHashSlot.count { owners[slot] = index } }
        }
    }

    /// The primary serving `slot`, or nil while none does.
    public func primary(forSlot slot: Int) -> RedisNodeAddress? {
        let index = owners[slot]
        return index < 0 ? nil : shards[Int(index)].primary
    }

    /// Every primary that serves a slot.
    public var primaries: [RedisNodeAddress] { shards.map(\.primary) }

    /// Every node the topology names, primaries first.
    public var nodes: [RedisNodeAddress] { shards.map(\.primary) + shards.flatMap(\.replicas) }

    /// How many of the 16,384 slots have a primary.
    public var coveredSlots: Int { owners.lazy.filter { $0 >= 0 }.count }

    /// The topology after a `MOVED slot address` reply: `slot` now belongs to `address`.
    public func moving(slot: Int, to address: RedisNodeAddress) -> RedisClusterTopology {
        var shards = self.shards
        for index in shards.indices {
            shards[index].slots = shards[index].slots.flatMap { range -> [ClosedRange<Int>] in
                guard range.contains(slot) else { return [range] }
                var kept: [ClosedRange<Int>] = []
                if range.lowerBound < slot { kept.append(range.lowerBound...(slot - 1)) }
                if slot < range.upperBound { kept.append((slot + 1)...range.upperBound) }
                return kept
            }
        }
        if let index = shards.firstIndex(where: { $0.primary == address }) {
            shards[index].slots.append(slot...slot)
        } else {
            shards.append(Shard(primary: address, replicas: [], slots: [slot...slot]))
        }
        return RedisClusterTopology(shards: shards)
    }

    /// Reads a `CLUSTER SHARDS` reply (RESP3 maps or RESP2 flat arrays). Node addresses without an endpoint
    /// (`?` or empty) are taken to be on `defaultHost`, the host the reply came from; `tls` picks `tls-port`.
    public static func fromShards(
        _ reply: RESPValue,
        defaultHost: String,
        tls: Bool = false
    ) throws(RedisClientError) -> RedisClusterTopology {
        var shards: [Shard] = []
        for shardValue in try reply.withoutAttributes.elements() {
            var slots: [ClosedRange<Int>] = []
            var primaries: [(RedisNodeAddress, healthy: Bool)] = []
            var replicas: [RedisNodeAddress] = []
            for entry in try shardValue.withoutAttributes.pairs() {
                switch entry.key.string {
                case "slots":
                    let bounds = try entry.value.withoutAttributes.elements().map { value throws(RedisClientError) in try value.int() }
                    guard bounds.count.isMultiple(of: 2) else { throw reply.unexpected("CLUSTER SHARDS slot pairs") }
                    for index in stride(from: 0, to: bounds.count, by: 2) where bounds[index] <= bounds[index + 1] {
                        slots.append(bounds[index]...bounds[index + 1])
                    }
                case "nodes":
                    for nodeValue in try entry.value.withoutAttributes.elements() {
                        var fields: [String: RESPValue] = [:]
                        for field in try nodeValue.withoutAttributes.pairs() {
                            if let name = field.key.string { fields[name] = field.value.withoutAttributes }
                        }
                        let endpoint = [fields["endpoint"]?.string, fields["ip"]?.string]
                            .compactMap { $0 }.first { !$0.isEmpty && $0 != "?" } ?? defaultHost
                        let port = try (tls ? fields["tls-port"] : fields["port"]).map { value throws(RedisClientError) in try value.int() }
                        guard let port, port > 0 else { continue }
                        let address = RedisNodeAddress(host: endpoint, port: port)
                        if fields["role"]?.string == "master" {
                            primaries.append((address, fields["health"]?.string != "fail"))
                        } else {
                            replicas.append(address)
                        }
                    }
                default:
                    continue
                }
            }
            guard let primary = primaries.first(where: \.healthy)?.0 ?? primaries.first?.0 else { continue }
            shards.append(Shard(primary: primary, replicas: replicas.sorted(), slots: slots))
        }
        return RedisClusterTopology(shards: shards)
    }

    /// Reads a `CLUSTER SLOTS` reply: `[start, end, [host, port, id, …], replicas…]` per range.
    public static func fromSlots(_ reply: RESPValue, defaultHost: String) throws(RedisClientError) -> RedisClusterTopology {
        var shards: [Shard] = []
        for rangeValue in try reply.withoutAttributes.elements() {
            let items = try rangeValue.withoutAttributes.elements()
            guard items.count >= 3 else { throw reply.unexpected("CLUSTER SLOTS ranges") }
            let start = try items[0].int()
            let end = try items[1].int()
            let nodes = try items[2...].map { node throws(RedisClientError) -> RedisNodeAddress in
                let fields = try node.withoutAttributes.elements()
                guard fields.count >= 2 else { throw reply.unexpected("CLUSTER SLOTS nodes") }
                let host = fields[0].string.flatMap { $0.isEmpty || $0 == "?" ? nil : $0 } ?? defaultHost
                return RedisNodeAddress(host: host, port: try fields[1].int())
            }
            shards.append(Shard(primary: nodes[0], replicas: Array(nodes.dropFirst()).sorted(), slots: [start...end]))
        }
        return RedisClusterTopology(shards: shards)
    }
}

/// A `MOVED` or `ASK` error reply: the slot and the node to send the command to.
struct RedisClusterRedirect: Equatable {
    enum Kind { case moved, ask }
    var kind: Kind
    var slot: Int
    var address: RedisNodeAddress

    /// Reads `MOVED 3999 127.0.0.1:6381` or `ASK 3999 127.0.0.1:6381` (an empty host means the same host as the
    /// node that answered, `defaultHost`).
    init?(_ message: String, defaultHost: String) {
        let words = message.split(separator: " ")
        guard words.count == 3, let slot = Int(words[1]), (0..<RedisHashSlot.count).contains(slot),
            let address = RedisNodeAddress(words[2], defaultHost: defaultHost)
        else { return nil }
        switch words[0] {
        case "MOVED": kind = .moved
        case "ASK": kind = .ask
        default: return nil
        }
        self.slot = slot
        self.address = address
    }
}
