import FloodgateRESP
import NIOCore

/// The shared connection to each primary (``RedisNodeLinkStateMachine``), and shutting them down.
extension RedisClusterRouter {
    /// The open connections to primaries.
    func connectedPrimaries() -> [RedisConnection] {
        state.withLock { state in
            state.links.values.compactMap { link in
                guard case .connected(let connection) = link.state, connection.isActive else { return nil }
                return connection
            }
        }
    }

    func connection(to address: RedisNodeAddress) async throws -> RedisConnection {
        let current = state.withLock { state -> RedisConnection? in
            guard case .connected(let connection) = state.links[address]?.state, connection.isActive else { return nil }
            return connection
        }
        if let current { return current }
        let promise = eventLoop.makePromise(of: RedisConnection.self)
        let action = state.withLock { state in
            state.links[address, default: RedisNodeLinkStateMachine()].connectionWanted(now: .now(), promise: promise)
        }
        switch action {
        case .use(let connection):
            promise.succeed(connection)
            return connection
        case .fail(let error):
            promise.fail(error)
            requestRefresh()
            throw error
        case .wait:
            return try await promise.futureResult.get()
        case .connect:
            do {
                let connection = try await open(address)
                try await connection.setPushHandler(subscriberMode: false) { [tracking] push in tracking.handlePush(push) }
                let waiters = state.withLock { $0.links[address]?.connected(connection) }
                guard let waiters else {
                    await connection.close()
                    throw RedisClientError(.clientShutdown, "the Redis client has shut down")
                }
                for waiter in waiters { waiter.succeed(connection) }
                await tracking.connectionEstablished(connection)
                connection.closeFuture.whenComplete { [weak self] _ in self?.linkClosed(connection, address) }
                return connection
            } catch {
                let failure = error as? RedisClientError ?? RedisClientError(.connectFailed, "\(error)")
                var generator = SystemRandomNumberGenerator()
                let waiters = state.withLock { state -> [EventLoopPromise<RedisConnection>] in
                    let attempt = (state.links[address]?.failures ?? 0) + 1
                    let delay = configuration.reconnectBackoff.delay(attempt: attempt, using: &generator)
                    return state.links[address]?.connectFailed(failure, retryAt: .now() + TimeAmount(delay)) ?? []
                }
                let unavailable = RedisClientError(.connectionUnavailable, "cannot reach Redis cluster node \(address): \(failure.message)")
                for waiter in waiters { waiter.fail(unavailable) }
                requestRefresh()
                throw unavailable
            }
        }
    }

    func linkClosed(_ connection: RedisConnection, _ address: RedisNodeAddress) {
        let wasCurrent = state.withLock { $0.links[address]?.closed(connection) ?? false }
        guard wasCurrent else { return }
        tracking.connectionLost()
        if !state.withLock({ $0.shutDown }) {
            logger.warning("connection to Redis cluster node lost", metadata: ["redis.node": "\(address)"])
            requestRefresh()
        }
    }

    /// The address to connect to for a node the cluster names (``RedisClientConfiguration/nodeAddressMap``).
    func dialled(_ address: RedisNodeAddress) -> RedisNodeAddress { configuration.nodeAddressMap[address] ?? address }

    func open(_ address: RedisNodeAddress) async throws -> RedisConnection {
        try await RedisConnection.connect(
            configuration: configuration.pointing(at: dialled(address)),
            eventLoop: eventLoop,
            accounting: accounting,
            sslContext: sslContext,
            logger: logger
        )
    }

    /// Fails waiting callers and closes every node's connection once drained; later commands fail with
    /// `.clientShutdown`.
    func shutdown() {
        let links = state.withLock { state in
            state.shutDown = true
            var taken: [(RedisConnection?, [EventLoopPromise<RedisConnection>])] = []
            for address in Array(state.links.keys) { taken.append(state.links[address]!.shutDown()) }
            return taken
        }
        requestRefresh()
        pause.cancel()
        let error = RedisClientError(.clientShutdown, "the Redis client has shut down")
        let drainTime = TimeAmount(configuration.commandTimeout ?? .seconds(2))
        for (connection, waiters) in links {
            for waiter in waiters { waiter.fail(error) }
            connection?.closeWhenDrained(deadline: .now() + drainTime)
        }
    }

    /// Closes the dedicated connections, after ``shutdown()``.
    func closeDedicatedConnections() async {
        let pools = state.withLock { state in
            defer { state.dedicated = [:] }
            return Array(state.dedicated.values)
        }
        for pool in pools { await pool.closeAll() }
    }
}
