import FloodgateLocalRedis
import FloodgateRESP
import FloodgateRedis
import FloodgateTestSupport
import Foundation
import NIOCore
import Testing

@Suite("Faults: server killed, hung, and cancelled callers", .timeLimit(.minutes(3)))
struct FaultTests {
    @Test func serverKilledMidPipelineFailsInFlightAndReconnects() async throws {
        try await withRedisServer { server in
            try await withRunningClient(testConfiguration(server, commandTimeout: .seconds(30))) { (client) async throws in
                let key = uniqueKey()
                try await client.set(key, to: "before")
                server.pause(true)
                let inFlight = 200
                try await withThrowingTaskGroup(of: RedisClientError?.self) { group in
                    for _ in 0..<inFlight {
                        group.addTask {
                            do {
                                _ = try await client.get(key)
                                return nil
                            } catch let error as RedisClientError {
                                return error
                            }
                        }
                    }
                    try await eventually("all commands are in flight") { await client.inFlightCount() == inFlight }
                    server.kill()
                    var failures = 0
                    for try await error in group {
                        #expect(error?.code == .connectionClosed)
                        failures += 1
                    }
                    #expect(failures == inFlight)
                }
                // While the server is down, commands fail fast instead of waiting.
                try await eventually("the client notices") { !client.isConnected }
                let down = await #expect(throws: RedisClientError.self) { try await client.ping() }
                #expect(down?.code == .connectionUnavailable)
                // Every attempt while down is counted as failed; none connected.
                try await eventually("a reconnection attempt failed") { client.accounting.connectionAttempts().failed > 0 }
                let whileDown = client.accounting.connectionAttempts()
                #expect(whileDown.connected == 1, "only the first connection succeeded")
                try await server.restart()
                try await eventually("the client reconnects") { client.isConnected }
                #expect(try await client.ping() == "PONG")
                let afterRestart = client.accounting.connectionAttempts()
                #expect(afterRestart.connected == 2, "one new connection, not one per attempt or per waiting command")
                #expect(afterRestart.failed >= whileDown.failed)
                #expect(try await client.getString(key) == nil, "a restarted server without persistence is empty")
            }
        }
    }

    /// A connection this process closes ends at the server even while a child process it started since is running:
    /// NIO's sockets are not close-on-exec, so a child that inherited one would keep it open, and the fault tests'
    /// refusals and kills would go unnoticed by the far end whenever another test had just started a redis-server.
    @Test func aConnectionClosedHereEndsAtTheServerWhileAChildStartedMeanwhileRuns() async throws {
        try await withRedisServer { server in
            var configuration = testConfiguration(server)
            configuration.clientName = "closed-here-\(UUID().uuidString.prefix(8))"
            let name = configuration.clientName!
            let observer = try await connectOnce(testConfiguration(server))
            let connection = try await connectOnce(configuration)
            func listed() async throws -> Bool {
                try await observer.send(RedisCommand("CLIENT", "LIST")).string?.contains("name=\(name) ") ?? false
            }
            #expect(try await listed(), "the server sees the connection")
            let child = try await LocalRedisServer.start()
            defer { child.stop() }
            await connection.close()
            try await eventually("the server sees the connection end") { try await !listed() }
            await observer.close()
        }
    }

    @Test func perCommandTimeout() async throws {
        try await withRedisServer { server in
            // Long enough that the commands before and after the pause answer in time on a loaded machine (at 100 ms,
            // a CI run with many servers starting at once timed one of them out).
            try await withRunningClient(testConfiguration(server, commandTimeout: .seconds(2))) { (client) async throws in
                let a = uniqueKey("a")
                let b = uniqueKey("b")
                try await client.set(a, to: "value-a")
                try await client.set(b, to: "value-b")
                server.pause(true)
                let error = await #expect(throws: RedisClientError.self) { try await client.getString(a) }
                #expect(error?.code == .timeout)
                server.pause(false)
                #expect(try await client.getString(b) == "value-b")
                #expect(client.isConnected, "a timeout does not drop the connection")
            }
        }
    }

    @Test func cancellingOneCommandFailsOnlyThatCommand() async throws {
        try await withRedisServer { server in
            try await withRunningClient(testConfiguration(server)) { (client) async throws in
                let a = uniqueKey("a")
                let b = uniqueKey("b")
                try await client.set(a, to: "value-a")
                try await client.set(b, to: "value-b")
                server.pause(true)
                let cancelled = Task { try await client.getString(a) }
                let survivor = Task { try await client.getString(b) }
                try await eventually("both are in flight") { await client.inFlightCount() == 2 }
                cancelled.cancel()
                let error = await #expect(throws: RedisClientError.self) { try await cancelled.value }
                #expect(error?.code == .cancelled)
                server.pause(false)
                #expect(try await survivor.value == "value-b")
                #expect(try await client.getString(a) == "value-a")
                #expect(client.isConnected)
            }
        }
    }

    @Test func malformedServerBytesAreAProtocolError() async throws {
        // A server that sends garbage: a loopback listener we control, speaking no RESP.
        let listener = try await GarbageServer.start(reply: "?this is not RESP\r\n")
        defer { listener.stop() }
        var configuration = RedisClientConfiguration(host: "127.0.0.1", port: listener.port)
        configuration.connectTimeout = .seconds(2)
        let error = await #expect(throws: RedisClientError.self) {
            try await RedisConnection.connect(
                configuration: configuration,
                eventLoop: listener.eventLoop,
                accounting: RedisCommandAccounting(),
                logger: .init(label: "test")
            )
        }
        #expect(error?.code == .protocolError)
    }
}
