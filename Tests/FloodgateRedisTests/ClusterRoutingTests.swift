import FloodgateRESP
import NIOCore
import NIOEmbedded
import Testing
@testable import FloodgateRedis

/// Redis Cluster's pure parts: hash slots, which keys a command names, topology replies, redirects, and the
/// life of one node's connection.
@Suite("Cluster slots, routes and topology", .timeLimit(.minutes(1)))
struct ClusterRoutingTests {
    @Test func slotsFollowTheSpecification() {
        // The specification's check value for CRC16-XMODEM, and slots redis-cli's CLUSTER KEYSLOT gives.
        #expect(RedisHashSlot.crc16(Array("123456789".utf8)) == 0x31C3)
        #expect(RedisHashSlot.of("foo") == 12182)
        #expect(RedisHashSlot.of("bar") == 5061)
        #expect(RedisHashSlot.of("") == 0)
        // Hash tags: the first non-empty {...} section is hashed.
        #expect(RedisHashSlot.of("{user1000}.following") == RedisHashSlot.of("{user1000}.followers"))
        #expect(RedisHashSlot.of("{user1000}.following") == RedisHashSlot.of("user1000"))
        #expect(RedisHashSlot.of("foo{}{bar}") == RedisHashSlot.of("foo{}{bar}".utf8))
        #expect(RedisHashSlot.of("foo{}{bar}") != RedisHashSlot.of("bar"), "an empty first tag hashes the whole key")
        #expect(RedisHashSlot.of("foo{{bar}}zap") == RedisHashSlot.of("{bar"))
        #expect(RedisHashSlot.of("fg:{slack:t1}:rl:0") == RedisHashSlot.of("fg:{slack:t1}:bk"))
    }

    @Test func commandsAreRoutedByTheirKeys() {
        let slot = { (key: String) in RedisClusterRoute.slot(RedisHashSlot.of(key)) }
        #expect(RedisCommand("GET", "foo").clusterRoute == slot("foo"))
        #expect(RedisCommand("SET", "foo", "bar", "PX", 10).clusterRoute == slot("foo"))
        #expect(RedisCommand("HSET", "h", "field", "v").clusterRoute == slot("h"))
        #expect(RedisCommand("EVALSHA", "abc", 2, "{t}a", "{t}b", "x").clusterRoute == slot("t"))
        #expect(RedisCommand("EVALSHA", "abc", 2, "a", "b", "x").clusterRoute == .crossSlot)
        #expect(RedisCommand("EVAL", "return 1", 0).clusterRoute == .anyNode)
        #expect(RedisCommand("MGET", arguments: ["{x}1", "{x}2"]).clusterRoute == slot("x"))
        #expect(RedisCommand("MGET", arguments: ["foo", "bar"]).clusterRoute == .crossSlot)
        #expect(RedisCommand("MSET", "{x}1", "foo", "{x}2", "bar").clusterRoute == slot("x"), "values are not keys")
        #expect(RedisCommand("BLPOP", "foo", 5).clusterRoute == slot("foo"), "the timeout is not a key")
        #expect(RedisCommand("SMOVE", "{s}a", "{s}b", "member").clusterRoute == slot("s"))
        for keyless in [RedisCommand("PING"), RedisCommand("PUBLISH", "channel", "m"), RedisCommand("SCAN", 0),
                        RedisCommand("CONFIG GET", "maxmemory"), RedisCommand("CLIENT TRACKING", "ON"),
                        RedisCommand("SCRIPT LOAD", "return 1"), RedisCommand("INFO", "commandstats")] {
            #expect(keyless.clusterRoute == .anyNode, "\(keyless)")
        }
        #expect(RedisCommand("MEMORY USAGE", "foo").clusterRoute == slot("foo"))
    }

    static func node(_ port: Int, role: String, health: String = "online") -> RESPValue {
        .map([
            .init(key: .bulk("id"), value: .bulk("id\(port)")),
            .init(key: .bulk("port"), value: .integer(Int64(port))),
            .init(key: .bulk("ip"), value: .bulk("127.0.0.1")),
            .init(key: .bulk("endpoint"), value: .bulk("127.0.0.1")),
            .init(key: .bulk("role"), value: .bulk(role)),
            .init(key: .bulk("health"), value: .bulk(health)),
        ])
    }

    static func shard(_ slots: [Int64], _ nodes: [RESPValue]) -> RESPValue {
        .map([
            .init(key: .bulk("slots"), value: .array(slots.map { .integer($0) })),
            .init(key: .bulk("nodes"), value: .array(nodes)),
        ])
    }

    @Test func readsClusterShardsAndClusterSlots() throws {
        let shards = RESPValue.array([
            Self.shard([10923, 16383], [Self.node(7003, role: "master"), Self.node(7006, role: "replica")]),
            Self.shard([0, 5460], [Self.node(7004, role: "replica"), Self.node(7001, role: "master")]),
            // After a failover: the failed primary is still listed as a master with health "fail".
            Self.shard([5461, 10922], [Self.node(7002, role: "master", health: "fail"), Self.node(7005, role: "master")]),
            Self.shard([], [Self.node(7007, role: "master")]),  // serves nothing yet
        ])
        let topology = try RedisClusterTopology.fromShards(shards, defaultHost: "10.0.0.1")
        #expect(topology.primaries.map(\.port) == [7001, 7005, 7003])
        #expect(topology.coveredSlots == 16384)
        #expect(topology.primary(forSlot: 0)?.port == 7001)
        #expect(topology.primary(forSlot: 5461)?.port == 7005)
        #expect(topology.primary(forSlot: 16383)?.port == 7003)
        #expect(topology.shards[0].replicas.map(\.port) == [7004])
        // RESP2 gives flat arrays for maps.
        let flat = RESPValue.array([
            .array([.bulk("slots"), .array([.integer(0), .integer(16383)]), .bulk("nodes"), .array([
                .array([.bulk("port"), .integer(7001), .bulk("endpoint"), .bulk("?"), .bulk("role"), .bulk("master")]),
            ])]),
        ])
        let single = try RedisClusterTopology.fromShards(flat, defaultHost: "10.0.0.1")
        #expect(single.primaries == [RedisNodeAddress(host: "10.0.0.1", port: 7001)], "an unknown endpoint is the host asked")
        let slots = RESPValue.array([
            .array([.integer(0), .integer(8191), .array([.bulk("127.0.0.1"), .integer(7001), .bulk("a")]),
                    .array([.bulk("127.0.0.1"), .integer(7004), .bulk("b")])]),
            .array([.integer(8192), .integer(16383), .array([.bulk(""), .integer(7002), .bulk("c")])]),
        ])
        let fromSlots = try RedisClusterTopology.fromSlots(slots, defaultHost: "10.0.0.1")
        #expect(fromSlots.primary(forSlot: 8191) == RedisNodeAddress(host: "127.0.0.1", port: 7001))
        #expect(fromSlots.primary(forSlot: 8192) == RedisNodeAddress(host: "10.0.0.1", port: 7002))
        #expect(throws: RedisClientError.self) { try RedisClusterTopology.fromSlots(.array([.integer(1)]), defaultHost: "h") }
    }

    @Test func aMovedSlotChangesOwnerAlone() throws {
        let shards = RESPValue.array([
            Self.shard([0, 8191], [Self.node(7001, role: "master")]),
            Self.shard([8192, 16383], [Self.node(7002, role: "master")]),
        ])
        let topology = try RedisClusterTopology.fromShards(shards, defaultHost: "h")
        let moved = topology.moving(slot: 100, to: RedisNodeAddress(host: "127.0.0.1", port: 7002))
        #expect(moved.primary(forSlot: 100)?.port == 7002)
        #expect(moved.primary(forSlot: 99)?.port == 7001 && moved.primary(forSlot: 101)?.port == 7001)
        #expect(moved.coveredSlots == 16384)
        let elsewhere = topology.moving(slot: 0, to: RedisNodeAddress(host: "127.0.0.1", port: 7009))
        #expect(elsewhere.primaries.count == 3 && elsewhere.primary(forSlot: 0)?.port == 7009)
    }

    @Test func readsRedirects() {
        let moved = RedisClusterRedirect("MOVED 3999 127.0.0.1:6381", defaultHost: "h")
        #expect(moved?.kind == .moved && moved?.slot == 3999 && moved?.address == RedisNodeAddress(host: "127.0.0.1", port: 6381))
        #expect(RedisClusterRedirect("ASK 3999 127.0.0.1:6381", defaultHost: "h")?.kind == .ask)
        #expect(RedisClusterRedirect("ASK 1 :6380", defaultHost: "10.1.1.1")?.address == RedisNodeAddress(host: "10.1.1.1", port: 6380))
        #expect(RedisClusterRedirect("ASK 1 ::1:6380", defaultHost: "h")?.address == RedisNodeAddress(host: "::1", port: 6380))
        #expect(RedisClusterRedirect("MOVED 16384 127.0.0.1:6381", defaultHost: "h") == nil, "no such slot")
        #expect(RedisClusterRedirect("ERR MOVED 1 h:1", defaultHost: "h") == nil)
        #expect(RedisClusterRedirect("MOVED 1 h:0", defaultHost: "h") == nil)
    }

    @Test func aNodeLinkConnectsOnceAndBacksOffAfterAFailure() async throws {
        let loop = NIOAsyncTestingEventLoop()
        var link = RedisNodeLinkStateMachine()
        let first = loop.makePromise(of: RedisConnection.self)
        let second = loop.makePromise(of: RedisConnection.self)
        guard case .connect = link.connectionWanted(now: .uptimeNanoseconds(0), promise: first) else {
            Issue.record("the first caller connects")
            return
        }
        guard case .wait = link.connectionWanted(now: .uptimeNanoseconds(0), promise: second) else {
            Issue.record("a second caller waits for the same attempt")
            return
        }
        let failed = link.connectFailed(RedisClientError(.connectFailed, "refused"), retryAt: .uptimeNanoseconds(1_000))
        #expect(failed.count == 2 && link.failures == 1)
        for promise in failed { promise.fail(RedisClientError(.connectionUnavailable, "refused")) }
        let third = loop.makePromise(of: RedisConnection.self)
        guard case .fail(let error) = link.connectionWanted(now: .uptimeNanoseconds(500), promise: third) else {
            Issue.record("inside the back-off a caller fails at once")
            return
        }
        #expect(error.code == .connectionUnavailable)
        guard case .connect = link.connectionWanted(now: .uptimeNanoseconds(1_000), promise: third) else {
            Issue.record("after the back-off a caller tries again")
            return
        }
        let (_, waiters) = link.shutDown()
        #expect(waiters.count == 1)
        for promise in waiters { promise.fail(RedisClientError(.clientShutdown, "down")) }
        let fourth = loop.makePromise(of: RedisConnection.self)
        guard case .fail(let down) = link.connectionWanted(now: .uptimeNanoseconds(2_000), promise: fourth) else {
            Issue.record("a shut-down link fails")
            return
        }
        fourth.fail(down)
        #expect(down.code == .clientShutdown)
        for promise in [first, second] { _ = try? await promise.futureResult.get() }
        try await loop.shutdownGracefully()
    }

    @Test func readsClusterOptionsFromTheURL() throws {
        let configuration = try RedisClientConfiguration(url: "redis://127.0.0.1:7001?cluster=on&seed=127.0.0.1:7002&seed=[::1]:7003")
        #expect(configuration.cluster == .enabled)
        #expect(configuration.seeds == [RedisNodeAddress(host: "127.0.0.1", port: 7002), RedisNodeAddress(host: "::1", port: 7003)])
        #expect(try RedisClientConfiguration(url: "redis://h").cluster == .automatic)
        for bad in ["redis://h?cluster=maybe", "redis://h?seed=nohost", "redis://h?seed=h:0"] {
            let error = #expect(throws: RedisClientError.self) { try RedisClientConfiguration(url: bad) }
            #expect(error?.code == .invalidConfiguration, "\(bad)")
        }
    }
}

extension RESPValue {
    fileprivate static func bulk(_ text: String) -> RESPValue { .bulkString(ByteBuffer(string: text)) }
}
