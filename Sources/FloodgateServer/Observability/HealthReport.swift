import Floodgate

/// The body of `GET /api/health`.
struct HealthReport: Codable, Sendable {
    struct Redis: Codable, Sendable {
        var configured: Bool
        var suspended: Bool
        var connected: Bool
        var reachable: Bool?
        var latencyMs: Double?
        /// Connections opened since start (commands, pub/sub), and attempts that failed (refused, TLS, credentials,
        /// timeout): a rising `connectionAttemptsFailed` with no new `connectionsOpened` means Redis is down or
        /// rejecting this sidecar.
        var connectionsOpened: Int?
        var connectionAttemptsFailed: Int?
        /// On a Redis Cluster: its primaries (`host:port`) and how many of the 16,384 slots have one.
        var cluster: Cluster?
    }

    struct Cluster: Codable, Sendable {
        var primaries: [String]
        var slotsCovered: Int
    }

    struct Budget: Codable, Sendable {
        var level: String
        var usedToday: Int
        var projected: Int
        var allowance: Int?

        init(_ status: CommandBudget.Status) {
            level = status.level.description
            usedToday = status.usedToday
            projected = status.projected
            allowance = status.allowance
        }
    }

    /// The response cache: how other instances' writes reach it, and what its directory knows.
    struct Cache: Codable, Sendable {
        /// `keyspace`, `tracking`, `publish`, `none` (no Redis) or `pending`.
        var invalidation: String
        /// `complete` (a miss of a key nobody wrote costs no command), `scanning`, `waitingForHorizon` or
        /// `waitingForStream`.
        var directory: String
        var directoryEntries: Int
        var directoryBytes: Int
        var nearEntries: Int
        /// Near misses answered with no command, and `GET`s that found nothing.
        var readsSkipped: Int
        var redisMisses: Int

        init(_ cache: ResponseCache) {
            let directory = cache.directoryStatus
            let statistics = cache.statistics
            invalidation = cache.invalidationMode.rawValue
            self.directory = directory.completeness
            directoryEntries = directory.entries
            directoryBytes = directory.bytes
            nearEntries = cache.nearCount.entries
            readsSkipped = statistics.readsSkipped
            redisMisses = statistics.redisMisses
        }
    }

    /// `ok` (ready), or `draining` (shutting down: 503).
    var status: String
    /// `shared`, `localOnly`, `degraded` (Redis unreachable) or `budgetShedding`.
    var mode: String
    var instance: String
    var fleetMembers: Int
    var keys: Int
    var openBreakers: [String]
    var backoffs: Int
    var permitsOutstanding: Int
    var redis: Redis
    var budget: Budget?
    var cache: Cache
    var uptimeSeconds: Double
    /// Shadow mode: the integrations in it, and the calls it let through that would have been refused.
    var shadow: Shadow?

    struct Shadow: Codable, Sendable {
        var integrations: [String]
        /// Integration → refusal (`rate_limited`, `breaker_open`, `provider_backoff`) → calls.
        var wouldRefuse: [String: [String: Int]]

        init?(_ sidecar: Sidecar) {
            let shadowed = sidecar.floodgate.configuration.shadowIntegrations
            guard !shadowed.isEmpty else { return nil }
            integrations = shadowed.contains("*") ? ["all"] : shadowed.sorted()
            wouldRefuse = sidecar.floodgate.shadowRefusals.mapValues { counts in
                Dictionary(uniqueKeysWithValues: counts.map { (APIError.refusalName($0.key) ?? "other", $0.value) })
            }
        }
    }
}
