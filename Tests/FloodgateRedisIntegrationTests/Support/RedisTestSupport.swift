import FloodgateLocalRedis
import FloodgateRedis
import Foundation
import InMemoryLogging
import Logging
import NIOPosix
import Testing

/// Starts a private redis-server for one test, runs `body`, and stops the server whatever happens.
func withRedisServer(
    _ options: LocalRedisServer.Options = .init(),
    _ body: (LocalRedisServer) async throws -> Void
) async throws {
    let server = try await LocalRedisServer.start(options)
    defer { server.stop() }
    return try await body(server)
}

/// A configuration for a local test server, with short timeouts so failures show quickly.
func testConfiguration(
    _ server: LocalRedisServer,
    commandTimeout: Duration? = .seconds(5)
) -> RedisClientConfiguration {
    var configuration = RedisClientConfiguration(host: server.host, port: server.port)
    configuration.commandTimeout = commandTimeout
    configuration.reconnectBackoff = .init(initial: .milliseconds(10), maximum: .milliseconds(200))
    return configuration
}

/// Runs a client's `run()` for the duration of `body`, then cancels it and waits for it to stop.
func withRunningClient(
    _ configuration: RedisClientConfiguration,
    logger: Logger = Logger(label: "test.redis"),
    _ body: @Sendable (RedisClient) async throws -> Void
) async throws {
    let client = try RedisClient(configuration: configuration, logger: logger)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await client.run() }
        do {
            try await body(client)
            group.cancelAll()
            try await group.waitForAll()
        } catch {
            group.cancelAll()
            try? await group.waitForAll()
            throw error
        }
    }
}


/// A unique key prefix per test, so tests never see each other's keys.
func uniqueKey(_ name: String = #function) -> String {
    "test:\(name.prefix(while: { $0 != "(" })):\(UUID().uuidString.prefix(8))"
}

/// A logger that keeps what it logs, for asserting on log lines.
func recordingLogger(level: Logger.Level = .trace) -> (Logger, InMemoryLogHandler) {
    var handler = InMemoryLogHandler()
    handler.logLevel = level
    let logger = Logger(label: "test.redis") { _ in handler }
    return (logger, handler)
}

/// Opens one connection outside any client, as the client's reconnect loop would, to see how it fails.
func connectOnce(_ configuration: RedisClientConfiguration) async throws -> RedisConnection {
    try await RedisConnection.connect(
        configuration: configuration,
        eventLoop: MultiThreadedEventLoopGroup.singleton.next(),
        accounting: RedisCommandAccounting(),
        logger: Logger(label: "test")
    )
}
