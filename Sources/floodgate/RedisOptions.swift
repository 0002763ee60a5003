import ArgumentParser
import FloodgateLocalRedis
import FloodgateRedis

/// Where to find Redis: a URL, or (by default) a private redis-server child started for the run.
struct RedisOptions: ParsableArguments {
    @Option(name: .long, help: "Redis URL (redis://[user:password@]host:port[/db] or rediss://...). Default: start a private redis-server on a free loopback port.")
    var redis: String?

    /// Runs `body` with a client configuration, starting and stopping a private server when no URL was given.
    func withConfiguration(_ body: (RedisClientConfiguration, String) async throws -> Void) async throws {
        if let url = redis {
            let configuration: RedisClientConfiguration
            do {
                configuration = try RedisClientConfiguration(url: url)
            } catch let error as RedisClientError {
                throw ValidationError("--redis: \(error.message)")
            }
            try await body(configuration, configuration.description)
            return
        }
        let server: LocalRedisServer
        do {
            server = try await LocalRedisServer.start()
        } catch let error as LocalRedisServer.StartError {
            throw commandFailure(error.description)
        }
        defer { server.stop() }
        try await body(RedisClientConfiguration(host: server.host, port: server.port), "private redis-server on \(server.url)")
    }
}
