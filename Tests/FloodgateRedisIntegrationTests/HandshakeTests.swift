import FloodgateRESP
import FloodgateRedis
import Logging
import NIOPosix
import Testing

@Suite("Handshake, authentication and URLs", .timeLimit(.minutes(3)))
struct HandshakeTests {
    @Test func fallsBackToRESP2WithALogLine() async throws {
        try await withRedisServer(.init(arguments: ["--rename-command", "HELLO", "", "--requirepass", "s3cret"])) { server in
            let (logger, logs) = recordingLogger()
            var configuration = testConfiguration(server)
            configuration.password = "s3cret"
            try await withRunningClient(configuration, logger: logger) { (client) async throws in
                #expect(try await client.ping() == "PONG")
                #expect(client.protocolVersion == 2)
                #expect(try await client.clientList().contains("name=floodgate"), "CLIENT SETNAME in RESP2")
            }
            #expect(logs.entries.contains { $0.message.description.contains("does not support HELLO 3; using RESP2") })
            #expect(!logs.entries.contains { "\($0.message) \($0.metadata)".contains("s3cret") }, "no password in logs")
        }
    }

    @Test func aclUserAuthenticates() async throws {
        try await withRedisServer { server in
            try await withRunningClient(testConfiguration(server)) { (admin) async throws in
                _ = try await admin.send(command: "ACL", arguments: ["SETUSER", "alice", "on", ">wonderland", "~*", "&*", "+@all"])
                _ = try await admin.send(command: "ACL", arguments: ["SETUSER", "reader", "on", ">pw", "~*", "+get", "+hello", "+ping"])
            }
            var alice = try RedisClientConfiguration(url: "redis://alice:wonderland@\(server.host):\(server.port)")
            alice.commandTimeout = .seconds(5)
            try await withRunningClient(alice) { (client) async throws in
                try await client.set("k", to: "v")
                let whoami = try await client.send(command: "ACL", arguments: ["WHOAMI"])
                #expect(whoami.string == "alice")
            }
            var reader = try RedisClientConfiguration(url: "redis://reader:pw@\(server.host):\(server.port)")
            reader.clientName = nil  // reader may not run CLIENT SETNAME
            try await withRunningClient(reader) { (client) async throws in
                #expect(try await client.getString("k") == "v")
                let denied = await #expect(throws: RedisClientError.self) { try await client.set("k", to: "w") }
                #expect(denied?.isServerError("NOPERM") == true)
            }
        }
    }

    @Test func wrongPasswordIsAnAuthenticationErrorWithoutThePassword() async throws {
        try await withRedisServer(.init(arguments: ["--requirepass", "right-password"])) { server in
            var configuration = testConfiguration(server)
            configuration.password = "wrong-password"
            let error = await #expect(throws: RedisClientError.self) {
                try await connectOnce(configuration)
            }
            #expect(error?.code == .authentication)
            #expect(error.map { "\($0)".contains("wrong-password") } == false)
            // Through the client: commands fail fast and say why, with no password in sight.
            let (logger, logs) = recordingLogger()
            try await withRunningClient(configuration, logger: logger) { (client) async throws in
                let failure = await #expect(throws: RedisClientError.self) { try await client.ping() }
                #expect(failure?.message.contains("WRONGPASS") == true)
                #expect(failure.map { "\($0)".contains("wrong-password") } == false)
            }
            #expect(!logs.entries.contains { "\($0.message) \($0.metadata)".contains("wrong-password") })
            // Without a password at all the server refuses commands.
            try await withRunningClient(testConfiguration(server)) { (client) async throws in
                let refused = await #expect(throws: RedisClientError.self) { try await client.ping() }
                #expect(refused?.code == .connectionUnavailable || refused?.isServerError("NOAUTH") == true)
            }
        }
    }

    @Test func commandsBeforeRunWaitForTheFirstConnection() async throws {
        try await withRedisServer { server in
            let client = try RedisClient(configuration: testConfiguration(server))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { () async throws in #expect(try await client.ping() == "PONG") }
                group.addTask { try await client.run() }
                try await group.next()
                group.cancelAll()
            }
        }
    }

    @Test func withoutRunCommandsTimeOutWithAHint() async throws {
        try await withRedisServer { server in
            let client = try RedisClient(configuration: testConfiguration(server, commandTimeout: .milliseconds(50)))
            let error = await #expect(throws: RedisClientError.self) { try await client.ping() }
            #expect(error?.code == .timeout)
            #expect(error?.message.contains("run()") == true)
        }
    }
}
