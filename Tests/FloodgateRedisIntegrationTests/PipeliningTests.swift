import FloodgateRESP
import FloodgateRedis
import FloodgateTestSupport
import NIOCore
import Testing

@Suite("Pipelining, transactions and dedicated connections", .timeLimit(.minutes(3)))
struct PipeliningTests {
    @Test func manyTasksShareOneConnection() async throws {
        try await withRedisServer { server in
            try await withRunningClient(testConfiguration(server)) { (client) async throws in
                let key = uniqueKey()
                let tasks = 2_000
                try await withThrowingTaskGroup(of: Int.self) { group in
                    for index in 0..<tasks {
                        group.addTask {
                            // Each task also reads its own value back: replies must reach the right caller.
                            let own = "\(key):\(index)"
                            try await client.set(own, to: "\(index)")
                            #expect(try await client.getString(own) == "\(index)")
                            return try await client.incrby(key)
                        }
                    }
                    var seen = Set<Int>()
                    for try await value in group { seen.insert(value) }
                    #expect(seen == Set(1...tasks), "every INCR returned a distinct count")
                }
                // One shared connection carried all of it (plus the one INFO itself runs on).
                let clients = try await client.info("clients")
                #expect(clients.contains("connected_clients:1\r"))
            }
        }
    }

    @Test func explicitPipelineReturnsEachOutcome() async throws {
        try await withRedisServer { server in
            try await withRunningClient(testConfiguration(server)) { (client) async throws in
                let key = uniqueKey()
                let hash = uniqueKey("hash")
                try await client.hset(hash, fields: [("f", "v")])
                let results = try await client.pipeline([
                    RedisCommand("SET", key, "1"),
                    RedisCommand("INCR", key),
                    RedisCommand("GET", hash),
                    RedisCommand("GET", key),
                ])
                #expect(results.count == 4)
                #expect(try results[1].get() == .integer(2))
                #expect(throws: RedisClientError.self) { try results[2].get() }
                #expect(try results[3].get() == .bulkString("2"))
            }
        }
    }

    @Test func transactionIsAtomicAndReportsQueuedErrors() async throws {
        try await withRedisServer { server in
            try await withRunningClient(testConfiguration(server)) { (client) async throws in
                let key = uniqueKey()
                let results = try await client.transaction([
                    RedisCommand("INCRBY", key, 10),
                    RedisCommand("INCRBY", key, 5),
                    RedisCommand("GET", key),
                ])
                #expect(try results.map { try $0.get() } == [.integer(10), .integer(15), .bulkString("15")])
                // A command that fails at EXEC time fails alone; the others still run.
                let hash = uniqueKey("hash")
                try await client.hset(hash, fields: [("f", "v")])
                let mixed = try await client.transaction([RedisCommand("INCR", hash), RedisCommand("INCR", key)])
                #expect(throws: RedisClientError.self) { try mixed[0].get() }
                #expect(try mixed[1].get() == .integer(16))
                // A command rejected while queueing aborts the whole transaction.
                let aborted = await #expect(throws: RedisClientError.self) {
                    try await client.transaction([RedisCommand("INCR", key), RedisCommand("NOSUCHCOMMAND")])
                }
                #expect(aborted?.isServerError("EXECABORT") == true)
                #expect(try await client.getString(key) == "16")
            }
        }
    }

    @Test func blockingCommandOnADedicatedConnection() async throws {
        try await withRedisServer { server in
            try await withRunningClient(testConfiguration(server)) { (client) async throws in
                let list = uniqueKey()
                async let popped = client.withDedicatedConnection { connection in
                    try await connection.send(RedisCommand("BLPOP", list, 5), component: .unlabelled, timeout: .seconds(10))
                }
                // The shared connection is not blocked meanwhile.
                try await eventually("BLPOP is blocking on the server") {
                    (try? await client.info("clients").contains("blocked_clients:1\r")) ?? false
                }
                #expect(try await client.ping() == "PONG")
                _ = try await client.send(RedisCommand("RPUSH", list, "item"))
                #expect(try await popped == .array([.bulkString(ByteBuffer(string: list)), .bulkString("item")]))
            }
        }
    }

    @Test func watchTransactionOnADedicatedConnection() async throws {
        try await withRedisServer { server in
            try await withRunningClient(testConfiguration(server)) { (client) async throws in
                let key = uniqueKey()
                try await client.set(key, to: "1")
                let exec = try await client.withDedicatedConnection { connection in
                    _ = try await connection.send(RedisCommand("WATCH", key))
                    // Someone else changes the key between WATCH and EXEC.
                    try await client.set(key, to: "changed")
                    _ = try await connection.send(RedisCommand("MULTI"))
                    _ = try await connection.send(RedisCommand("SET", key, "mine"))
                    return try await connection.send(RedisCommand("EXEC"))
                }
                #expect(exec == .null, "EXEC aborts when a watched key changed")
                #expect(try await client.getString(key) == "changed")
            }
        }
    }

    @Test func dedicatedPoolIsBounded() async throws {
        try await withRedisServer { server in
            var configuration = testConfiguration(server)
            configuration.dedicatedConnectionLimit = 2
            try await withRunningClient(configuration) { (client) async throws in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<10 {
                        group.addTask {
                            try await client.withDedicatedConnection { connection in
                                _ = try await connection.send(RedisCommand("PING"))
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                // The shared connection plus at most two dedicated ones, kept and reused: the client opened three
                // at most (the server's own count can briefly include a connection another party is closing).
                let opened = client.accounting.connectionAttempts().connected
                #expect((2...3).contains(opened), "connections opened: \(opened)")
                try await eventually("the server counts at most three clients") {
                    let info = try await client.info("clients")
                    let connected = info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("connected_clients:") }
                    let count = connected.flatMap { Int($0.dropFirst("connected_clients:".count)) } ?? 0
                    return (2...3).contains(count)
                }
            }
        }
    }
}
