import FloodgateRESP

extension RedisClient {
    /// Whether the client is routing across a Redis Cluster (learnt from the first handshake).
    public var isCluster: Bool { cluster.isActive }

    /// The cluster's last known topology; nil on a single server.
    public var clusterTopology: RedisClusterTopology? { cluster.topology }

    /// One sender per server that holds data: the one server, or every primary of a cluster. For commands each
    /// primary must run itself: `SCAN`, `FLUSHALL`, `INFO`, `CONFIG SET`, `SCRIPT LOAD`.
    public func primaryNodes() -> [RedisNodeSender] {
        guard cluster.isActive else { return [RedisNodeSender(client: self, address: nil)] }
        return cluster.primaries.map { RedisNodeSender(client: self, address: $0) }
    }

    /// Sends `command` to every primary (or the one server) in turn and returns each reply.
    @discardableResult
    public func sendToEveryPrimary(_ command: RedisCommand, component: RedisComponent = .unlabelled) async throws -> [RESPValue] {
        var replies: [RESPValue] = []
        for node in primaryNodes() { replies.append(try await node.send(command, component: component)) }
        return replies
    }

    /// `INFO commandstats` summed over every primary (the one server's on a single server): what every client
    /// of the data sent, replicas' replays of their primary's writes left out.
    public func commandStatsOfEveryPrimary() async throws -> [String: Int] {
        var total: [String: Int] = [:]
        for node in primaryNodes() {
            for (command, calls) in try await node.commandStats() { total[command, default: 0] += calls }
        }
        return total
    }
}

/// Sends commands to one server behind a ``RedisClient``: a cluster primary, or the single server.
public struct RedisNodeSender: RedisCommandSending {
    let client: RedisClient
    /// The node; nil for a single server.
    public let address: RedisNodeAddress?
    public var component: RedisComponent { .unlabelled }

    public func send(_ command: RedisCommand, component: RedisComponent) async throws -> RESPValue {
        guard let address else { return try await client.send(command, component: component) }
        return try await client.cluster.send(command, to: address, component: component)
    }
}
