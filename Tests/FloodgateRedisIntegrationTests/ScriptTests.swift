import FloodgateRESP
import FloodgateRedis
import Testing

@Suite("Scripts", .timeLimit(.minutes(3)))
struct ScriptTests {
    @Test func loadsItselfOnNoScript() async throws {
        try await withRedisServer { server in
            try await withRunningClient(testConfiguration(server)) { (client) async throws in
                let key = uniqueKey()
                let script = RedisScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")
                #expect(try await client.load(script) == script.sha1, "our SHA-1 is the server's")
                #expect(try await client.evaluate(script, keys: [key], arguments: ["2"]) == .integer(2))
                _ = try await client.send(command: "SCRIPT", arguments: ["FLUSH"])
                let before = client.accounting.snapshot()
                #expect(try await client.evaluate(script, keys: [key], arguments: ["3"]) == .integer(5))
                let after = client.accounting.snapshot().subtracting(before)
                #expect(after.count(command: "evalsha") == 1 && after.count(command: "eval") == 1)
                // Loaded again: the next run is one EVALSHA.
                #expect(try await client.evaluate(script, keys: [key], arguments: ["1"]) == .integer(6))
                #expect(client.accounting.snapshot().subtracting(before).count(command: "eval") == 1)
            }
        }
    }

    @Test func scriptErrorsAreServerErrors() async throws {
        try await withRedisServer { server in
            try await withRunningClient(testConfiguration(server)) { (client) async throws in
                let failing = RedisScript("return redis.error_reply('MYCODE custom failure')")
                let error = await #expect(throws: RedisClientError.self) { try await client.evaluate(failing) }
                #expect(error?.isServerError("MYCODE") == true)
            }
        }
    }
}
