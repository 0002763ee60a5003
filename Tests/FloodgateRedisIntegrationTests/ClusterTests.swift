import FloodgateLocalRedis
import FloodgateRESP
import FloodgateRedis
import FloodgateTestSupport
import Foundation
import Synchronization
import Testing

/// What load tasks share with the test that watches them.
private final class Load: Sendable {
    let succeeded = Atomic<Int>(0)
    let afterFailover = Atomic<Int>(0)
    let failures = Mutex<[String]>([])
    let codes = Mutex<[String: Int]>([:])
    let slowest = Mutex<Duration>(.zero)
    let killed = Atomic<Bool>(false)
    let stop = Atomic<Bool>(false)
}

/// The client on a real Redis Cluster it starts itself: three primaries with a replica each on loopback.
@Suite("Redis Cluster on a real local cluster", .serialized, .timeLimit(.minutes(5)))
struct ClusterTests {
    static func configuration(_ cluster: LocalRedisCluster, node: Int = 0) -> RedisClientConfiguration {
        var configuration = RedisClientConfiguration(host: "127.0.0.1", port: cluster.nodes[node].port)
        configuration.commandTimeout = .seconds(5)
        configuration.reconnectBackoff = .init(initial: .milliseconds(10), maximum: .milliseconds(200))
        return configuration
    }

    /// A plain connection to one node, outside any client (cluster mode off), for checking what each node holds.
    static func direct(_ node: LocalRedisServer) async throws -> RedisConnection {
        var configuration = RedisClientConfiguration(host: node.host, port: node.port)
        configuration.cluster = .disabled
        return try await connectOnce(configuration)
    }

    /// `count` keys, each in a different slot, and which primary serves each.
    static func keys(_ prefix: String, count: Int) -> [String] { (0..<count).map { "\(prefix):\($0)" } }

    @Test func routesEveryCommandKindToThePrimaryOfItsSlot() async throws {
        let cluster = try await LocalRedisCluster.start(replicas: 0)
        defer { cluster.stop() }
        try await withRunningClient(Self.configuration(cluster, node: 1)) { client in
            let keys = Self.keys(uniqueKey(), count: 300)
            for key in keys { try await client.set(key, to: "v-\(key)") }
            #expect(client.isCluster)
            let topology = try #require(client.clusterTopology)
            #expect(topology.primaries.count == 3 && topology.coveredSlots == 16384)
            // Every key landed on its slot's primary, and every primary got some.
            var perPrimary: [Int: Int] = [:]
            for node in cluster.nodes {
                let connection = try await Self.direct(node)
                let role = try await connection.send(RedisCommand("ROLE")).elements().first?.string
                if role == "master" { perPrimary[node.port] = try await connection.dbsize() }
                await connection.close()
            }
            #expect(perPrimary.count == 3 && perPrimary.values.allSatisfy { $0 > 50 } && perPrimary.values.reduce(0, +) == 300)
            for key in keys.prefix(50) { #expect(try await client.getString(key) == "v-\(key)") }
            // Hashes, sorted sets, expiry, counters.
            let tagged = "{\(uniqueKey())}"
            #expect(try await client.hset("\(tagged):h", fields: [("a", "1"), ("b", "2")]) == 2)
            #expect(try await client.hgetall("\(tagged):h").count == 2)
            #expect(try await client.incrby("\(tagged):n", by: 5) == 5)
            _ = try await client.send(command: "ZADD", arguments: ["\(tagged):z", "1", "m"])
            _ = try await client.send(command: "PEXPIRE", arguments: ["\(tagged):z", "60000"])
            #expect(try await client.send(command: "PTTL", arguments: ["\(tagged):z"]).int() > 50_000)
            // A script with keys runs on their slot's primary; one with keys in two slots is refused unsent.
            let script = RedisScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")
            #expect(try await client.evaluate(script, keys: ["\(tagged):n"], arguments: ["2"]).int() == 7)
            let crossSlot = await #expect(throws: RedisClientError.self) {
                try await client.evaluate(script, keys: [keys[0], keys[1]], arguments: ["1"])
            }
            #expect(crossSlot?.code == .crossSlot)
            let mget = await #expect(throws: RedisClientError.self) {
                try await client.send(command: "MGET", arguments: [keys[0], keys[1]])
            }
            #expect(mget?.code == .crossSlot)
            #expect(try await client.send(command: "MGET", arguments: ["\(tagged):n", "\(tagged):none"]).elements().count == 2)
            // A pipeline across slots comes back in order; a transaction must keep to one slot.
            let pipeline = try await client.pipeline(keys.prefix(30).map { RedisCommand("GET", $0) })
            #expect(try pipeline.map { try $0.get().optionalString() } == keys.prefix(30).map { "v-\($0)" })
            let transaction = try await client.transaction([
                RedisCommand("INCRBY", "\(tagged):n", 1), RedisCommand("GET", "\(tagged):n"),
            ])
            #expect(try transaction[1].get().optionalString() == "8")
            let split = await #expect(throws: RedisClientError.self) {
                try await client.transaction([RedisCommand("SET", keys[0], 1), RedisCommand("SET", keys[1], 1)])
            }
            #expect(split?.code == .crossSlot)
            // Keyless commands run on a node; per-primary ones through primaryNodes().
            #expect(try await client.ping() == "PONG")
            var scanned = 0
            for node in client.primaryNodes() {
                var cursor = "0"
                repeat {
                    let page = try await node.scan(cursor: cursor, match: keys[0].dropLast(2) + "*", count: 1000)
                    scanned += page.keys.count
                    cursor = page.cursor
                } while cursor != "0"
            }
            #expect(scanned == 300)
            // A blocking command on a dedicated connection to the key's primary.
            try await client.send(command: "RPUSH", arguments: ["\(tagged):list", "x"])
            let popped = try await client.withDedicatedConnection(forKey: "\(tagged):list") { connection in
                try await connection.send(RedisCommand("BLPOP", "\(tagged):list", 1)).elements()
            }
            #expect(popped.last?.string == "x")
        }
    }

    /// A cluster that requires a password: the client authenticates on every primary it routes to (the URL's
    /// credentials are the cluster's), and without the password every command fails at once, saying the server asked for authentication.
    @Test func authenticatesOnEveryNodeOfAPasswordedCluster() async throws {
        let cluster = try await LocalRedisCluster.start(replicas: 0, password: "cluster-secret")
        defer { cluster.stop() }
        let url = "redis://:cluster-secret@127.0.0.1:\(cluster.nodes[0].port)"
        var configuration = try RedisClientConfiguration(url: url)
        configuration.commandTimeout = .seconds(5)
        try await withRunningClient(configuration) { client in
            let keys = Self.keys(uniqueKey(), count: 60)
            for key in keys { try await client.set(key, to: "v") }
            #expect(client.clusterTopology?.primaries.count == 3)
            #expect(try await client.pipeline(keys.map { RedisCommand("GET", $0) }).allSatisfy { (try? $0.get().optionalString()) == "v" })
        }
        var anonymous = Self.configuration(cluster)
        anonymous.connectTimeout = .seconds(2)
        try await withRunningClient(anonymous) { client in
            let error = await #expect(throws: RedisClientError.self) { try await client.set("k", to: "v") }
            // The handshake's refusal (`NOAUTH`) is why the command finds no connection.
            #expect(error?.code == .connectionUnavailable, "\(String(describing: error))")
            #expect(error?.message.contains("NOAUTH") == true, "\(String(describing: error))")
        }
    }

    /// A cluster over TLS (clients, bus and replication): the client learns every node's `tls-port` from
    /// `CLUSTER SHARDS` and verifies each one against the private CA.
    @Test func routesOverTLSToEveryPrimary() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        let cluster = try await LocalRedisCluster.start(replicas: 0, tls: certificates.redisTLSFiles)
        defer { cluster.stop() }
        var configuration = try RedisClientConfiguration(url: "rediss://127.0.0.1:\(cluster.nodes[1].port)")
        configuration.tls = .trusting(caCertificatePath: certificates.caCertificate)
        configuration.commandTimeout = .seconds(5)
        try await withRunningClient(configuration) { client in
            let keys = Self.keys(uniqueKey(), count: 60)
            for key in keys { try await client.set(key, to: "over-tls") }
            let topology = try #require(client.clusterTopology)
            #expect(Set(topology.primaries.map(\.port)) == Set(cluster.nodes.map(\.port)), "the TLS ports")
            for key in keys.prefix(20) { #expect(try await client.getString(key) == "over-tls") }
        }
    }

    /// `cluster=on` against a server that is not in a cluster: commands fail at once, saying why; `auto` (the
    /// default) uses it as the one server it is.
    @Test func clusterModeOnAPlainServerFailsClearly() async throws {
        try await withRedisServer { server in
            var forced = testConfiguration(server)
            forced.cluster = .enabled
            try await withRunningClient(forced) { client in
                // The first command waits for the first attempt, which fails at the topology read.
                let error = await #expect(throws: RedisClientError.self) { try await client.set("k", to: "v") }
                #expect(error?.code == .connectionUnavailable)
                #expect(error?.message.contains("cluster support disabled") == true, "\(String(describing: error))")
                #expect(!client.isCluster)
            }
            try await withRunningClient(testConfiguration(server)) { client in
                try await client.set("k", to: "v")
                #expect(!client.isCluster && client.clusterTopology == nil)
                #expect(client.primaryNodes().count == 1 && client.primaryNodes()[0].address == nil)
            }
        }
    }

    @Test func accountingEqualsTheSumOfEveryNodesCommandStats() async throws {
        let cluster = try await LocalRedisCluster.start(replicas: 0)
        defer { cluster.stop() }
        // The client talks to primaries only; a replica's statistics count the writes it applies from its primary.
        var primaries: [RedisConnection] = []
        for node in cluster.nodes {
            let connection = try await Self.direct(node)
            if try await connection.send(RedisCommand("ROLE")).elements().first?.string == "master" {
                primaries.append(connection)
            } else {
                await connection.close()
            }
        }
        #expect(primaries.count == 3)
        for observer in primaries { try await observer.configResetStat() }
        let observers = primaries
        try await withRunningClient(Self.configuration(cluster)) { client in
            let keys = Self.keys(uniqueKey(), count: 200)
            let subscription = try await client.subscribe(to: ["cluster-accounting"])
            try await withThrowingDiscardingTaskGroup { group in
                for worker in 0..<4 {
                    group.addTask {
                        for (index, key) in keys.enumerated() where index % 4 == worker {
                            try await client.set(key, to: "v")
                            _ = try await client.get(key)
                            _ = try await client.incrby(key + ":n")
                        }
                    }
                }
            }
            _ = try await client.pipeline(keys.prefix(40).map { RedisCommand("PTTL", $0) })
            _ = try await client.evaluate(RedisScript("return 1"), keys: [keys[0]])
            _ = try await client.publish("m", to: "cluster-accounting")
            var iterator = subscription.makeAsyncIterator()
            _ = try await next(&iterator, "the message published on a cluster arrives")
            // Nothing is in flight now; the client's count must be every node's count, command by command.
            let sent = client.accounting.snapshot().byCommand
            var seen: [String: Int] = [:]
            for observer in observers {
                for (command, calls) in try await observer.commandStats() { seen[command, default: 0] += calls }
            }
            // The observers' own CONFIG RESETSTAT counts after the reset; an INFO's own call is not in its reply.
            seen["config|resetstat", default: 0] -= observers.count
            // Replicas talk to their primaries too (REPLCONF ACK, PSYNC after a resync): not a client's commands.
            for replication in ["replconf", "psync", "sync"] { seen[replication] = nil }
            #expect(seen.filter { $0.value != 0 } == sent.filter { $0.value != 0 }, "sent \(sent) seen \(seen)")
            #expect(sent["set"] == 200 && sent["get"] == 200 && sent["incrby"] == 200)
        }
        for observer in observers { await observer.close() }
    }

    /// Moves one slot between primaries by hand, as `redis-cli --cluster reshard` does, while eight tasks keep
    /// incrementing keys in it: every call succeeds (`ASK` followed with `ASKING` while keys move, `MOVED` after)
    /// and the counters add up to the calls.
    @Test func followsAskAndMovedThroughALiveSlotMigrationUnderLoad() async throws {
        let cluster = try await LocalRedisCluster.start(replicas: 0)
        defer { cluster.stop() }
        try await withRunningClient(Self.configuration(cluster)) { client in
            let tag = uniqueKey()
            let slot = RedisHashSlot.of(tag)
            let keys = (0..<20).map { "{\(tag)}:\($0)" }
            for key in keys { _ = try await client.incrby(key, by: 0) }
            let topology = try #require(client.clusterTopology)
            let source = try #require(topology.primary(forSlot: slot))
            let target = try #require(topology.primaries.first { $0 != source })
            let nodeFor = { (address: RedisNodeAddress) in cluster.nodes.first { $0.port == address.port }! }
            let from = try await Self.direct(nodeFor(source))
            let to = try await Self.direct(nodeFor(target))
            let fromID = try await from.send(RedisCommand("CLUSTER MYID")).optionalString() ?? ""
            let toID = try await to.send(RedisCommand("CLUSTER MYID")).optionalString() ?? ""
            let load = Load()
            try await withThrowingDiscardingTaskGroup { group in
                for worker in 0..<8 {
                    group.addTask {
                        var index = worker
                        while !load.stop.load(ordering: .relaxed) {
                            do {
                                _ = try await client.incrby(keys[index % keys.count])
                                load.succeeded.add(1, ordering: .relaxed)
                            } catch {
                                load.failures.withLock { $0.append("\(error)") }
                            }
                            index += 1
                        }
                    }
                }
                try await eventually("the load is running") { load.succeeded.load(ordering: .relaxed) > 200 }
                _ = try await to.send(RedisCommand("CLUSTER SETSLOT", slot, "IMPORTING", fromID))
                _ = try await from.send(RedisCommand("CLUSTER SETSLOT", slot, "MIGRATING", toID))
                // Half the keys first, then a pause under load (the rest answer ASK from the source), then the rest.
                for batch in [Array(keys.prefix(10)), Array(keys.dropFirst(10))] {
                    _ = try await from.send(
                        RedisCommand("MIGRATE", arguments: ["127.0.0.1", String(target.port), "", "0", "5000", "KEYS"] + batch)
                    )
                    let before = load.succeeded.load(ordering: .relaxed)
                    try await eventually("calls go on while the slot moves") { load.succeeded.load(ordering: .relaxed) > before + 200 }
                }
                for connection in [to, from] { _ = try await connection.send(RedisCommand("CLUSTER SETSLOT", slot, "NODE", toID)) }
                let before = load.succeeded.load(ordering: .relaxed)
                try await eventually("calls go on after the slot moved") { load.succeeded.load(ordering: .relaxed) > before + 200 }
                load.stop.store(true, ordering: .relaxed)
            }
            #expect(load.failures.withLock { $0 } == [], "no call failed")
            var total = 0
            for key in keys { total += Int(try await client.getString(key) ?? "0") ?? 0 }
            #expect(total == load.succeeded.load(ordering: .relaxed), "every increment counted once")
            #expect(client.accounting.snapshot().count(command: "asking") > 0, "ASK was followed with ASKING")
            try await eventually("the client learnt the new owner") { client.clusterTopology?.primary(forSlot: slot) == target }
            #expect(try await to.dbsize() >= keys.count)
            await from.close()
            await to.close()
        }
    }

    /// A slot half set up for migration (`MIGRATING` on its owner, nothing `IMPORTING` on the target) sends a
    /// missing key's command round in circles: the owner says `ASK` the target, the target says `MOVED` back. The
    /// client follows 5 redirects, then fails with `.clusterRedirects`; once the slot is stable, the command works.
    @Test func aCommandRedirectedInCirclesFailsAfterTheBound() async throws {
        let cluster = try await LocalRedisCluster.start(replicas: 0)
        defer { cluster.stop() }
        try await withRunningClient(Self.configuration(cluster)) { client in
            let tag = uniqueKey()
            _ = try await client.get("{\(tag)}:warm-up")
            let slot = RedisHashSlot.of(tag)
            let topology = try #require(client.clusterTopology)
            let owner = try #require(topology.primary(forSlot: slot))
            let target = try #require(topology.primaries.first { $0 != owner })
            let from = try await Self.direct(cluster.nodes.first { $0.port == owner.port }!)
            let to = try await Self.direct(cluster.nodes.first { $0.port == target.port }!)
            let toID = try await to.send(RedisCommand("CLUSTER MYID")).optionalString() ?? ""
            _ = try await from.send(RedisCommand("CLUSTER SETSLOT", slot, "MIGRATING", toID))
            let asksBefore = client.accounting.snapshot().count(command: "asking")
            let error = await #expect(throws: RedisClientError.self) { try await client.get("{\(tag)}:missing") }
            #expect(error?.code == .clusterRedirects, "\(String(describing: error))")
            #expect(client.accounting.snapshot().count(command: "asking") > asksBefore, "ASK was followed with ASKING")
            _ = try await from.send(RedisCommand("CLUSTER SETSLOT", slot, "STABLE"))
            #expect(try await client.get("{\(tag)}:missing") == nil)
            await from.close()
            await to.close()
        }
    }

    /// A primary is killed under load: calls to its slots fail at once or with a clear error (none hangs past its
    /// timeout), its replica is promoted, and calls — scripts included — succeed again without a restart.
    @Test func survivesTheFailoverOfAPrimaryUnderLoad() async throws {
        let cluster = try await LocalRedisCluster.start()
        defer { cluster.stop() }
        try await withRunningClient(Self.configuration(cluster)) { client in
            let tag = uniqueKey()
            let key = "{\(tag)}:n"
            _ = try await client.incrby(key, by: 0)
            let slot = RedisHashSlot.of(tag)
            let topology = try #require(client.clusterTopology)
            let victimAddress = try #require(topology.primary(forSlot: slot))
            let replica = try #require(topology.shards.first { $0.primary == victimAddress }?.replicas.first)
            // A primary other than the one the client's URL names, so the control connection stays up... or not:
            // either way the test must pass; record which.
            let victim = try #require(cluster.nodes.first { $0.port == victimAddress.port })
            let subscription = try await client.subscribe(to: ["failover-events"])
            let script = RedisScript("return redis.call('INCRBY', KEYS[1], 1)")
            _ = try await client.evaluate(script, keys: [key])
            let load = Load()
            try await withThrowingDiscardingTaskGroup { group in
                for _ in 0..<4 {
                    group.addTask {
                        while !load.stop.load(ordering: .relaxed) {
                            let started = ContinuousClock.now
                            do {
                                _ = try await client.evaluate(script, keys: [key])
                                if load.killed.load(ordering: .relaxed) { load.afterFailover.add(1, ordering: .relaxed) }
                            } catch let error as RedisClientError {
                                load.codes.withLock { $0["\(error.code)", default: 0] += 1 }
                                try await Task.sleep(for: .milliseconds(5))
                            }
                            let took = ContinuousClock.now - started
                            load.slowest.withLock { $0 = max($0, took) }
                        }
                    }
                }
                try await Task.sleep(for: .milliseconds(200))
                victim.kill()
                load.killed.store(true, ordering: .relaxed)
                try await eventually("the replica is promoted and calls succeed again", within: .seconds(30)) {
                    load.afterFailover.load(ordering: .relaxed) > 100
                }
                load.stop.store(true, ordering: .relaxed)
            }
            #expect(client.clusterTopology?.primary(forSlot: slot) == replica, "the replica serves the slot")
            let seen = load.codes.withLock { $0 }
            #expect(Set(seen.keys).isSubset(of: ["connectionClosed", "connectionUnavailable", "timeout"]), "\(seen)")
            #expect(load.slowest.withLock { $0 } <= .seconds(6), "no call outlived its 5 s timeout by much")
            // Pub/sub still works: the subscription's node may have been the victim.
            try await eventually("a publish reaches the subscriber after the failover", within: .seconds(20)) {
                (try? await client.publish("after", to: "failover-events")) ?? 0 > 0
            }
            var iterator = subscription.makeAsyncIterator()
            var heard = false
            while !heard, let event = try await next(&iterator, "the message after the failover") {
                if case .message(let message) = event { heard = message.text == "after" }
            }
            #expect(heard)
        }
    }
}
