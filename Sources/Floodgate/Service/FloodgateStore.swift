import FloodgateRedis

/// Where a ``Floodgate`` keeps the fleet's shared state.
public enum FloodgateStore: Sendable {
    /// A Redis server shared by the fleet (the client must be running, e.g. in the same `ServiceGroup`).
    case redis(RedisClient)
    /// No shared state: local-only mode, each instance enforcing its configured share of every limit.
    case memory
}
