import FloodgateLocalRedis
import FloodgateRedis
import NIOCore

/// A running client on one connection to a Redis server (private, or `FLOODGATE_BENCH_REDIS` when set), with a
/// 3-byte value stored under `key` as redis-benchmark's GET test uses.
public final class BenchmarkClient: Sendable {
    public let client: RedisClient
    public let key = "key:__rand_int__"
    private let server: LocalRedisServer?
    private let runner: Task<Void, any Error>

    private init(client: RedisClient, server: LocalRedisServer?) {
        self.client = client
        self.server = server
        self.runner = Task { try await client.run() }
    }

    public static func start(url: String? = nil) async throws -> BenchmarkClient {
        let server: LocalRedisServer?
        let configuration: RedisClientConfiguration
        if let url {
            server = nil
            configuration = try RedisClientConfiguration(url: url)
        } else {
            let local = try await LocalRedisServer.start()
            server = local
            configuration = RedisClientConfiguration(host: local.host, port: local.port)
        }
        let benchmark = BenchmarkClient(client: try RedisClient(configuration: configuration), server: server)
        try await benchmark.client.set(benchmark.key, to: "xxx")
        return benchmark
    }

    /// `count` GETs one after another: each waits for its reply before the next is sent.
    public func sequentialGets(_ count: Int) async throws {
        let command = RedisCommand("GET", key)
        for _ in 0..<count { _ = try await client.send(command) }
    }

    /// `batches` rounds of `depth` GETs written back to back, each round waiting for all its replies
    /// (what `redis-benchmark -P depth -c 1` does).
    public func pipelinedGets(batches: Int, depth: Int) async throws {
        let commands = Array(repeating: RedisCommand("GET", key), count: depth)
        for _ in 0..<batches { _ = try await client.pipeline(commands) }
    }

    /// `count` GETs from `tasks` concurrent tasks sharing the one connection.
    public func concurrentGets(_ count: Int, tasks: Int) async throws {
        let command = RedisCommand("GET", key)
        let client = self.client
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<tasks {
                let share = count / tasks + (task < count % tasks ? 1 : 0)
                group.addTask { for _ in 0..<share { _ = try await client.send(command) } }
            }
            try await group.waitForAll()
        }
    }

    /// Stores `keys` keys (`bench:0`…, spread over a cluster's slots) and returns a GET for each.
    public func spreadKeys(_ keys: Int) async throws -> [RedisCommand] {
        for start in stride(from: 0, to: keys, by: 1_000) {
            let sets = (start..<min(start + 1_000, keys)).map { RedisCommand("SET", "bench:\($0)", "xxx") }
            for result in try await client.pipeline(sets) { _ = try result.get() }
        }
        return (0..<keys).map { RedisCommand("GET", "bench:\($0)") }
    }

    /// `count` GETs of random keys among `gets` from `tasks` concurrent tasks, each waiting for its reply before
    /// its next (what `redis-benchmark --cluster -c tasks -r keys -t get` does).
    public func spreadGets(_ count: Int, tasks: Int, gets: [RedisCommand]) async throws {
        let client = self.client
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<tasks {
                let share = count / tasks + (task < count % tasks ? 1 : 0)
                group.addTask {
                    var generator = SystemRandomNumberGenerator()
                    for _ in 0..<share { _ = try await client.send(gets[Int.random(in: 0..<gets.count, using: &generator)]) }
                }
            }
            try await group.waitForAll()
        }
    }

    public func stop() async {
        runner.cancel()
        _ = await runner.result
        server?.stop()
    }
}

/// Runs workloads on the client's event loop: with the client's nonisolated(nonsending) API, the caller, the write
/// and the reply all stay on one thread.
public actor EventLoopRunner {
    public nonisolated let unownedExecutor: UnownedSerialExecutor
    private let bench: BenchmarkClient

    public init(_ bench: BenchmarkClient) {
        self.bench = bench
        self.unownedExecutor = bench.client.eventLoop.executor.asUnownedSerialExecutor()
    }

    public func sequentialGets(_ count: Int) async throws {
        let command = RedisCommand("GET", bench.key)
        for _ in 0..<count { _ = try await bench.client.send(command) }
    }

    public func pipelinedGets(batches: Int, depth: Int) async throws {
        let commands = Array(repeating: RedisCommand("GET", bench.key), count: depth)
        for _ in 0..<batches { _ = try await bench.client.pipeline(commands) }
    }
}
