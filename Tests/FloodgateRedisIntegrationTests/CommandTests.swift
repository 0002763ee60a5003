import FloodgateRESP
import FloodgateRedis
import NIOCore
import Testing

@Suite("Commands against a real server", .timeLimit(.minutes(3)))
struct CommandTests {
    @Test func stringsKeysAndExpiry() async throws {
        try await withRedisServer { server in
            try await withRunningClient(testConfiguration(server)) { (client) async throws in
                let key = uniqueKey()
                #expect(try await client.ping() == "PONG")
                #expect(client.protocolVersion == 3)
                #expect(try await client.getString(key) == nil)
                #expect(try await client.set(key, to: "v1"))
                #expect(try await client.getString(key) == "v1")
                #expect(try await client.set(key, to: "v2", condition: .ifNotExists) == false)
                #expect(try await client.getString(key) == "v1")
                #expect(try await client.set(key, to: "v3", expiration: .milliseconds(60_000), condition: .ifExists))
                let pttl = try await client.pttl(key)
                #expect(pttl > 50_000 && pttl <= 60_000)
                #expect(try await client.expire(key, seconds: 100))
                #expect(try await client.pttl(key) > 60_000)
                #expect(try await client.pexpire(key, milliseconds: 5_000))
                #expect(try await client.pttl(key) <= 5_000)
                #expect(try await client.set(key, to: "v4", expiration: .keepTTL))
                #expect(try await client.pttl(key) > 0)
                let counter = uniqueKey("counter")
                #expect(try await client.incrby(counter, by: 5) == 5)
                #expect(try await client.incrby(counter, by: -2) == 3)
                let values = try await client.mget([key, counter, uniqueKey("missing")])
                #expect(values.map { $0.map { String(buffer: $0) } } == ["v4", "3", nil])
                #expect(try await client.exists(key, counter) == 2)
                #expect(try await client.del(key, counter) == 2)
                #expect(try await client.exists(key) == 0)
                let binary = ByteBuffer(bytes: [0, 1, 2, 255, 13, 10])
                #expect(try await client.set(key, to: binary))
                #expect(try await client.get(key) == binary)
            }
        }
    }

    @Test func hashes() async throws {
        try await withRedisServer { server in
            try await withRunningClient(testConfiguration(server)) { (client) async throws in
                let key = uniqueKey()
                #expect(try await client.hset(key, fields: [("a", "1"), ("b", "two")]) == 2)
                #expect(try await client.hincrby(key, field: "a", by: 41) == 42)
                let all = try await client.hgetall(key)
                #expect(all.mapValues { String(buffer: $0) } == ["a": "42", "b": "two"])
                #expect(try await client.hget(key, field: "b").map { String(buffer: $0) } == "two")
                #expect(try await client.hgetall(uniqueKey("none")).isEmpty)
            }
        }
    }

    @Test func serverCommands() async throws {
        try await withRedisServer { server in
            try await withRunningClient(testConfiguration(server)) { (client) async throws in
                let (seconds, microseconds) = try await client.time()
                #expect(seconds > 1_700_000_000 && (0..<1_000_000).contains(microseconds))
                #expect(try await client.info("server").contains("redis_version:"))
                #expect(try await client.configGet("maxmemory-policy")["maxmemory-policy"] == "noeviction")
                try await client.configSet("maxmemory-policy", to: "allkeys-lru")
                #expect(try await client.configGet("maxmemory-policy")["maxmemory-policy"] == "allkeys-lru")
                #expect(try await client.clientID() > 0)
                #expect(try await client.clientList().contains("name=floodgate"))
                #expect(try await client.dbsize() == 0)
                let echoed = try await client.send(command: "ECHO", arguments: ["generic"])
                #expect(echoed == .bulkString("generic"))
            }
        }
    }

    @Test func serverErrorsAreDistinguishable() async throws {
        try await withRedisServer { server in
            try await withRunningClient(testConfiguration(server)) { (client) async throws in
                let key = uniqueKey()
                try await client.hset(key, fields: [("f", "v")])
                let wrongType = await #expect(throws: RedisClientError.self) { try await client.get(key) }
                #expect(wrongType?.code == .server)
                #expect(wrongType?.isServerError("WRONGTYPE") == true)
                let unknown = await #expect(throws: RedisClientError.self) {
                    try await client.send(command: "NOSUCHCOMMAND")
                }
                #expect(unknown?.serverErrorPrefix == "ERR")
                // The connection is still fine after error replies.
                #expect(try await client.ping() == "PONG")
            }
        }
    }

    @Test func selectsTheConfiguredDatabase() async throws {
        try await withRedisServer { server in
            var configuration = testConfiguration(server)
            configuration.database = 3
            try await withRunningClient(configuration) { (client) async throws in
                try await client.set("in-db-3", to: "x")
            }
            var db3 = try RedisClientConfiguration(url: "\(server.url)/3")
            db3.commandTimeout = .seconds(5)
            try await withRunningClient(db3) { (client) async throws in
                #expect(try await client.getString("in-db-3") == "x")
            }
            try await withRunningClient(testConfiguration(server)) { (client) async throws in
                #expect(try await client.getString("in-db-3") == nil)
            }
        }
    }
}
