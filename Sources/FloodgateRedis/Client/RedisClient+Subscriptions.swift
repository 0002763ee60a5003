extension RedisClient {
    /// Subscribes to channels and patterns on the client's pub/sub connection and returns once Redis has confirmed
    /// them. Iterate the result for messages; release it to unsubscribe.
    public func subscribe(
        to channels: [String],
        patterns: [String] = [],
        component: RedisComponent = .unlabelled
    ) async throws -> RedisSubscription {
        try await pubSub.subscribe(
            channels: Set(channels),
            patterns: Set(patterns),
            component: component,
            timeout: configuration.commandTimeout ?? configuration.connectTimeout
        )
    }

    /// Turns on server-assisted client-side caching for keys read through this client (again after every
    /// reconnect; on a cluster, on every primary's connection). Returns the resulting status: a server that refuses `CLIENT TRACKING` gives `.unavailable`
    /// instead of an error.
    @discardableResult
    public func enableTracking(_ mode: RedisTrackingMode = .default()) async -> RedisTrackingStatus {
        let connection = try? await sharedConnection()
        let status = await tracking.enable(mode, on: connection)
        // On a cluster each primary tracks its own keys: turn it on on every primary's connection too.
        for primary in cluster.connectedPrimaries() where primary !== connection {
            await tracking.connectionEstablished(primary)
        }
        return status
    }

    /// Whether tracking is on, pending, off, or unavailable on this server.
    public var trackingStatus: RedisTrackingStatus { tracking.status }

    /// Invalidations for tracked keys, plus `.all` whenever the cache can no longer be trusted (server flush,
    /// connection lost, shutdown). Each call returns a new stream that sees every later invalidation.
    public func invalidations() -> AsyncStream<RedisInvalidation> {
        tracking.invalidations()
    }
}
