import ArgumentParser
import FloodgateRedis
import Logging

/// Runs a short mixed workload through one client and prints what it sent, by component and command, next to what
/// the server counted (`INFO commandstats`; on a cluster, summed over its primaries).
struct RedisStatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "redis-stats",
        abstract: "Send a short workload through the Floodgate Redis client and compare its command accounting with the server's INFO commandstats."
    )

    @OptionGroup var redisOptions: RedisOptions

    @Option(help: "Concurrent tasks sharing the client's one connection.")
    var tasks = 50

    @Option(help: "Operations per task.")
    var operations = 200

    func validate() throws {
        guard tasks > 0, tasks <= 10_000 else { throw ValidationError("--tasks must be between 1 and 10000") }
        guard operations > 0, operations <= 1_000_000 else {
            throw ValidationError("--operations must be between 1 and 1000000")
        }
    }

    func run() async throws {
        let tasks = self.tasks
        let operations = self.operations
        try await redisOptions.withConfiguration { configuration, location in
            print("Redis: \(location)")
            let client = try RedisClient(configuration: configuration, logger: Logger(label: "floodgate"))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await client.run() }
                // On a cluster every primary counts its own commands.
                try await client.sendToEveryPrimary(RedisCommand("CONFIG RESETSTAT"))
                let before = client.accounting.snapshot()
                let clock = ContinuousClock()
                let elapsed = try await clock.measure {
                    try await Self.workload(client, tasks: tasks, operations: operations)
                }
                let sent = client.accounting.snapshot().subtracting(before)
                let counted = try await client.commandStatsOfEveryPrimary()
                let protocolVersion = client.protocolVersion
                group.cancelAll()
                Self.report(sent: sent, counted: counted, elapsed: elapsed, protocolVersion: protocolVersion)
            }
        }
    }

    /// Each task reads a cached value (cache), spends from a rate-limit counter (rateLimit) and, every tenth
    /// operation, writes the cache and checks a breaker hash (breaker).
    private static func workload(_ client: RedisClient, tasks: Int, operations: Int) async throws {
        let cache = client.labelled(.cache)
        let limits = client.labelled(.rateLimit)
        let breaker = client.labelled(.breaker)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<tasks {
                group.addTask {
                    for operation in 0..<operations {
                        let key = "floodgate:demo:\(task % 10):\(operation % 20)"
                        if try await cache.get(key) == nil || operation % 10 == 0 {
                            try await cache.set(key, to: "response-\(operation)", expiration: .seconds(60))
                        }
                        try await limits.incrby("floodgate:demo:limit:\(task % 10)")
                        if operation % 10 == 0 { _ = try await breaker.hgetall("floodgate:demo:breaker") }
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    private static func report(
        sent: RedisCommandAccounting.Snapshot,
        counted: [String: Int],
        elapsed: Duration,
        protocolVersion: Int?
    ) {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("Protocol: RESP\(protocolVersion ?? 0), one shared connection")
        print("")
        print(pad("component", 14) + pad("commands", 10, right: true))
        for (component, count) in sent.byComponent.sorted(by: { $0.key.name < $1.key.name }) {
            print(pad(component.name, 14) + pad(String(count), 10, right: true))
        }
        print("")
        print(pad("command", 14) + pad("client sent", 13, right: true) + pad("server counted", 16, right: true))
        var matches = true
        for (command, count) in sent.byCommand.sorted(by: { $0.key < $1.key }) {
            let server = counted[command] ?? 0
            if server != count { matches = false }
            print(pad(command, 14) + pad(String(count), 13, right: true) + pad(String(server), 16, right: true))
        }
        print("")
        let rate = Double(sent.total) / max(seconds, 1e-9)
        print("Total: \(sent.total) commands in \(String(format: "%.3f", seconds)) s (\(Int(rate)) commands/s)")
        print(matches ? "Accounting matches INFO commandstats exactly." : "MISMATCH between client accounting and INFO commandstats.")
    }

    private static func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
        let padding = String(repeating: " ", count: max(0, width - text.count))
        return right ? padding + text : text + padding
    }
}
