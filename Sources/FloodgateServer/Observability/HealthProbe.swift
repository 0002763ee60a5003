import Floodgate
import FloodgateRedis
import Synchronization

/// Redis reachability and latency for `/api/health`: one `PING` (component `health`) at most every 5 seconds,
/// only while the client is connected and the budget is not shedding; otherwise the last answer.
final class HealthProbe: Sendable {
    struct Reading: Sendable {
        var reachable: Bool
        var latencyMs: Double?
        var at: Int64
    }

    static let minimumInterval: Int64 = 5_000_000_000
    private let last = Mutex<Reading?>(nil)

    func read(_ sidecar: Sidecar) async -> Reading? {
        guard let redis = sidecar.redis else { return nil }
        let now = sidecar.now()
        if let reading = last.withLock({ $0 }), now - reading.at < Self.minimumInterval { return reading }
        var reading = Reading(reachable: false, latencyMs: nil, at: now)
        let shedding = (sidecar.budget.map { $0.level >= .localOnly } ?? false) || !sidecar.redisSwitch.isOn
        if redis.isConnected && !shedding {
            let clock = ContinuousClock()
            let started = clock.now
            if (try? await redis.labelled("health").ping()) != nil {
                let elapsed = started.duration(to: clock.now)
                reading.reachable = true
                reading.latencyMs = Double(elapsed.nanoseconds) / 1_000_000
            }
        } else if shedding {
            reading.reachable = redis.isConnected
        }
        last.withLock { $0 = reading }
        return reading
    }
}
