/// Which kind of Redis service a replay's private redis-server stands in for: what it lets a client use for cache
/// invalidation.
public enum RedisServerKind: String, Sendable, Hashable, CaseIterable, Codable {
    /// A self-hosted Redis as installed: `CLIENT TRACKING` works, keyspace notifications are off.
    case plain
    /// A managed service that blocks `CLIENT` (the command renamed away), notifications off: writers publish.
    case noTracking = "no-tracking"
    /// A service without `CLIENT TRACKING` that has keyspace notifications on (as Upstash can).
    case keyspace

    /// The `redis-server` arguments that make a private server of this kind.
    public var serverArguments: [String] {
        switch self {
        case .plain: []
        case .noTracking: ["--rename-command", "CLIENT", ""]
        case .keyspace: ["--rename-command", "CLIENT", "", "--notify-keyspace-events", "K$gxe"]
        }
    }
}
