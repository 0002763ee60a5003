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
