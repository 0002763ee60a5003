import FloodgateRESP
import FloodgateRedis
import Testing

@Suite("Command accounting matches the server's INFO commandstats", .timeLimit(.minutes(3)))
struct AccountingTests {
    @Test func countsMatchCommandStatsExactly() async throws {
        try await withRedisServer { server in
            try await withRunningClient(testConfiguration(server)) { (client) async throws in
                try await client.configResetStat()
                let before = client.accounting.snapshot()
                let key = uniqueKey()
                let cache = client.labelled(.cache)
                let limits = client.labelled(.rateLimit)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<300 {
                        group.addTask {
                            _ = try await cache.get("\(key):\(index % 7)")
                            if index % 3 == 0 { try await cache.set("\(key):\(index % 7)", to: "x") }
                            if index % 5 == 0 { try await limits.incrby("\(key):n") }
                        }
                    }
                    try await group.waitForAll()
                }
                _ = try await client.pipeline([RedisCommand("HSET", key + ":h", "f", "1"), RedisCommand("HGETALL", key + ":h")])
                _ = try await client.transaction([RedisCommand("INCR", key + ":t")], component: .budget)
                _ = try? await client.send(command: "GET", arguments: [key + ":h"])  // an error reply is still a command
                let ours = client.accounting.snapshot().subtracting(before)
                let theirs = try await client.commandStats()

                #expect(ours.count(component: .cache) == 300 + 100)
                #expect(ours.count(component: .rateLimit) == 60)
                #expect(ours.count(component: .budget) == 3)
                var expected = ours.byCommand
                expected["config|resetstat"] = nil
                var actual = theirs
                actual["config|resetstat"] = nil
                #expect(actual == expected)
                #expect(ours.total == 300 + 100 + 60 + 2 + 3 + 1)
            }
        }
    }

    @Test func handshakeAndScriptRetriesAreCounted() async throws {
        try await withRedisServer { server in
            try await withRunningClient(testConfiguration(server)) { (client) async throws in
                _ = try await client.ping()
                let handshake = client.accounting.snapshot()
                #expect(handshake.count(component: .connection) == 1, "HELLO")
                #expect(handshake.count(command: "hello") == 1)
                let script = RedisScript("return 7")
                _ = try await client.labelled(.breaker).evaluate(script)
                let counted = client.accounting.snapshot().subtracting(handshake)
                #expect(counted.counts[.init(component: .breaker, command: "evalsha")] == 1)
                #expect(counted.counts[.init(component: .breaker, command: "eval")] == 1, "the NOSCRIPT retry")
                let stats = try await client.commandStats()
                #expect(stats["evalsha"] == 1 && stats["eval"] == 1)
            }
        }
    }
}
