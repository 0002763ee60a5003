import FloodgateRESP
import FloodgateRedis
import FloodgateTestSupport
import Logging
import ServiceLifecycle
import Testing

@Suite("Graceful shutdown", .timeLimit(.minutes(3)))
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

    @Test func shutdownWhileTheServerIsDownEndsRunAndStopsReconnecting() async throws {
        try await withRedisServer { server in
            let client = try RedisClient(configuration: testConfiguration(server))
            let group = ServiceGroup(services: [client], logger: Logger(label: "test"))
            let running = Task { try await group.run() }
            _ = try await client.subscribe(to: ["c"])
            server.kill()
            try await eventually("the client notices") { !client.isConnected }
            await group.triggerGracefulShutdown()
            // run() returns although neither connection could say goodbye to a server that is gone.
            try await withDeadline(.seconds(10), "the service group ends after the shutdown") { try await running.value }
            let refused = await #expect(throws: RedisClientError.self) { try await client.ping() }
            #expect(refused?.code == .clientShutdown)
            // Nothing reconnects: the restarted server sees no client of ours, neither shared nor pub/sub.
            try await server.restart()
            let attempts = client.accounting.connectionAttempts()
            try await Task.sleep(for: .milliseconds(500))  // longer than the test back-off's ceiling (200 ms)
            #expect(client.accounting.connectionAttempts() == attempts, "no connection attempt after shutdown")
            try await withRunningClient(testConfiguration(server)) { (observer) async throws in
                let clients = try await observer.send(command: "CLIENT", arguments: ["LIST"]).string ?? ""
                #expect(clients.split(separator: "\n").count == 1, "only the observer: \(clients)")
            }
        }
    }
}
