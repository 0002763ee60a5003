import Metrics
import Synchronization

/// Counts every command written to Redis, by component and by command name, exactly once (retries included).
///
/// Counts are kept in process (read them with ``snapshot()``) and reported as the swift-metrics counter
/// `floodgate_redis_commands_total` with dimensions `component` and `command`. A command is counted when the client
/// hands it to the connection for writing, on the connection's event loop.
public final class RedisCommandAccounting: Sendable {
    /// The metric name of the command counter.
    public static let metricLabel = "floodgate_redis_commands_total"

    /// A component and a command name (lowercase, subcommands as `client|tracking`, like `INFO commandstats`).
    public struct Key: Sendable, Hashable, CustomStringConvertible {
        public var component: RedisComponent
        public var command: String
        public init(component: RedisComponent, command: String) {
            self.component = component
            self.command = command
        }
        public var description: String { "\(component)/\(command)" }
    }

    /// Counts at one moment.
    public struct Snapshot: Sendable, Hashable {
        public var counts: [Key: Int]

        public init(counts: [Key: Int] = [:]) { self.counts = counts }

        /// All commands.
        public var total: Int { counts.values.reduce(0, +) }
        /// Commands by component.
        public var byComponent: [RedisComponent: Int] {
            counts.reduce(into: [:]) { $0[$1.key.component, default: 0] += $1.value }
        }
        /// Commands by command name.
        public var byCommand: [String: Int] { counts.reduce(into: [:]) { $0[$1.key.command, default: 0] += $1.value } }
        /// Commands of one component.
        public func count(component: RedisComponent) -> Int { byComponent[component] ?? 0 }
        /// Commands of one name, over all components.
        public func count(command: String) -> Int { byCommand[command] ?? 0 }

        /// What was counted since `earlier`.
        public func subtracting(_ earlier: Snapshot) -> Snapshot {
            var result = counts
            for (key, value) in earlier.counts { result[key, default: 0] -= value }
            return Snapshot(counts: result.filter { $0.value != 0 })
        }
    }

    private struct Entry {
        var count: Int
        let counter: Counter
    }

    private let entries = Mutex<[Key: Entry]>([:])
    private let metricsFactory: any MetricsFactory

    /// - Parameter metricsFactory: where the counters go; defaults to the process's bootstrapped metrics system.
    public init(metricsFactory: any MetricsFactory = MetricsSystem.factory) {
        self.metricsFactory = metricsFactory
    }

    /// Records that `count` commands named `command` were written for `component`.
    public func record(command: String, component: RedisComponent, count: Int = 1) {
        let key = Key(component: component, command: command)
        let counter = entries.withLock { entries -> Counter in
            if let existing = entries[key] {
                entries[key]!.count += count
                return existing.counter
            }
            let counter = Counter(
                label: Self.metricLabel,
                dimensions: [("component", component.name), ("command", command)],
                factory: metricsFactory
            )
            entries[key] = Entry(count: count, counter: counter)
            return counter
        }
        counter.increment(by: count)
    }

    /// The counts so far.
    public func snapshot() -> Snapshot {
        entries.withLock { Snapshot(counts: $0.mapValues(\.count)) }
    }
}
