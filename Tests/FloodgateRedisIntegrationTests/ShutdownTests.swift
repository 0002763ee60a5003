import FloodgateTestSupport
import FloodgateRESP
import FloodgateRedis
import Logging
import ServiceLifecycle
import Testing

@Suite("Graceful shutdown")
struct ShutdownTests {
    @Test func inFlightCommandsFinishAndLaterOnesAreRefused() async throws {
        try await withRedisServer { server in
            let key = uniqueKey()
            let client = try RedisClient(configuration: testConfiguration(server))
            let group = ServiceGroup(services: [client], logger: Logger(label: "test"))
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                try await client.set(key, to: "kept")
                server.pause(true)
                let inFlight = Task { try await client.getString(key) }
                try await eventually("the GET is in flight") { await client.inFlightCount() == 1 }
                await group.triggerGracefulShutdown()
                try await eventually("the client is shutting down") { !client.isConnected }
                let refused = await #expect(throws: RedisClientError.self) { try await client.ping() }
                #expect(refused?.code == .clientShutdown)
                server.pause(false)
                #expect(try await inFlight.value == "kept", "the in-flight command was drained, not dropped")
                try await tasks.waitForAll()
            }
            #expect(!client.isConnected)
        }
    }

    @Test func shutdownWhileTheServerIsDownDoesNotHang() async throws {
        try await withRedisServer { server in
            let client = try RedisClient(configuration: testConfiguration(server))
            let group = ServiceGroup(services: [client], logger: Logger(label: "test"))
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                _ = try await client.subscribe(to: ["c"])
                server.kill()
                try await eventually("the client notices") { !client.isConnected }
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
        }
    }
}
