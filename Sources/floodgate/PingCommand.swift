import ArgumentParser
import FloodgateRedis
import Logging

/// Connects, sends PING, and prints the reply, the protocol and the round-trip time.
struct PingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ping", abstract: "PING a Redis server.")

    @OptionGroup var redisOptions: RedisOptions

    func run() async throws {
        try await redisOptions.withConfiguration { configuration, location in
            let client = try RedisClient(configuration: configuration, logger: Logger(label: "floodgate"))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await client.run() }
                defer { group.cancelAll() }
                _ = try await client.ping()
                let clock = ContinuousClock()
                var reply = ""
                let elapsed = try await clock.measure { reply = try await client.ping() }
                print("\(location): \(reply) (RESP\(client.protocolVersion ?? 0), \(elapsed))")
            }
        }
    }
}
