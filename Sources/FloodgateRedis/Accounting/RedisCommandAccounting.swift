import Metrics
import Synchronization

/// Counts every command written to Redis, by component and by command name, exactly once (retries included).
///
/// Counts are kept in process (read them with ``snapshot()``) and reported as the swift-metrics counter
/// `floodgate_redis_commands_total` with dimensions `component` and `command`. A command is counted when the client
/// hands it to the connection for writing, on the connection's event loop.
///
/// Connection attempts (TCP, TLS and handshake) are counted too, as `floodgate_redis_connection_attempts_total` with
/// the dimension `outcome` (`connected` or `failed`): what a Redis outage costs in reconnections.
public final class RedisCommandAccounting: Sendable {
    /// The metric name of the command counter.
    public static let metricLabel = "floodgate_redis_commands_total"
    /// The metric name of the connection-attempt counter.
    public static let connectionAttemptsLabel = "floodgate_redis_connection_attempts_total"

    /// Connection attempts so far, by outcome.
    public struct ConnectionAttempts: Sendable, Hashable {
        public var connected = 0
        public var failed = 0
        public var total: Int { connected + failed }
    }

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
    private let attempts = Mutex(ConnectionAttempts())
    private let metricsFactory: any MetricsFactory
    private let connectedCounter: Counter
    private let failedCounter: Counter

    /// - Parameter metricsFactory: where the counters go; defaults to the process's bootstrapped metrics system.
    public init(metricsFactory: any MetricsFactory = MetricsSystem.factory) {
        self.metricsFactory = metricsFactory
        connectedCounter = Counter(label: Self.connectionAttemptsLabel, dimensions: [("outcome", "connected")], factory: metricsFactory)
        failedCounter = Counter(label: Self.connectionAttemptsLabel, dimensions: [("outcome", "failed")], factory: metricsFactory)
    }

    /// Records one attempt to open a connection and whether it ended connected (handshake done).
    public func recordConnectionAttempt(connected: Bool) {
        attempts.withLock { connected ? ($0.connected += 1) : ($0.failed += 1) }
        (connected ? connectedCounter : failedCounter).increment()
    }

    /// The connection attempts so far.
    public func connectionAttempts() -> ConnectionAttempts { attempts.withLock { $0 } }

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
