import DequeModule
import Floodgate
import FloodgateRedis
import Synchronization

/// Redis commands by component over the last minutes, for the dashboard's chart: the client's accounting sampled
/// at a fixed interval, kept as per-interval counts in a bounded ring.
final class CommandHistory: Sendable {
    struct Point: Codable, Sendable, Hashable {
        /// End of the interval, ms since 1970.
        var t: Int64
        var byComponent: [String: Int]
    }

    let interval: Duration
    let capacity: Int
    private let state: Mutex<(points: Deque<Point>, last: [String: Int], sampledAt: Int64)>

    init(interval: Duration = .seconds(10), capacity: Int = 90) {
        self.interval = interval
        self.capacity = capacity
        state = Mutex((Deque(), [:], .min))
    }

    /// Records the commands counted since the last sample.
    func sample(_ snapshot: RedisCommandAccounting.Snapshot?, at now: Int64) {
        let totals = Self.byComponent(snapshot)
        state.withLock { state in
            let delta = Self.delta(totals, since: state.last)
            state.last = totals
            state.sampledAt = now
            state.points.append(Point(t: now / 1_000_000, byComponent: delta))
            while state.points.count > capacity { state.points.removeFirst() }
        }
    }

    /// Samples when an interval has passed since the last sample.
    func sampleIfDue(_ snapshot: @autoclosure () -> RedisCommandAccounting.Snapshot?, at now: Int64) {
        let due = state.withLock { now - $0.sampledAt >= interval.nanoseconds }
        if due { sample(snapshot(), at: now) }
    }

    /// The recorded points, and the interval in progress (commands since the last sample) as a last point.
    func points(current snapshot: RedisCommandAccounting.Snapshot?, at now: Int64) -> [Point] {
        let totals = Self.byComponent(snapshot)
        return state.withLock { state in
            Array(state.points) + [Point(t: now / 1_000_000, byComponent: Self.delta(totals, since: state.last))]
        }
    }

    /// Commands a minute over the last minute of full intervals in `points` (the last point, in progress, left
    /// out); nil before one interval has passed.
    func commandsPerMinute(_ points: [Point]) -> Double? {
        let perMinute = max(1, Int(60 / max(1, interval.components.seconds)))
        let full = points.dropLast().suffix(perMinute)
        guard !full.isEmpty else { return nil }
        let commands = full.reduce(0) { $0 + $1.byComponent.values.reduce(0, +) }
        return Double(commands) * Double(perMinute) / Double(full.count)
    }

    /// Commands per component counted since `last`.
    static func delta(_ totals: [String: Int], since last: [String: Int]) -> [String: Int] {
        totals.reduce(into: [:]) { $0[$1.key] = $1.value - last[$1.key, default: 0] }
    }

    static func byComponent(_ snapshot: RedisCommandAccounting.Snapshot?) -> [String: Int] {
        var totals: [String: Int] = [:]
        for (component, count) in snapshot?.byComponent ?? [:] { totals[component.description] = count }
        return totals
    }
}
