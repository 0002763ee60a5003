import FloodgateRESP
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Synchronization

/// A Redis client that multiplexes commands from many concurrent tasks over one shared, pipelined connection.
///
/// It is a `Service`: run it in a `ServiceGroup` (or call ``run()`` in a task); `run()` connects, reconnects with
/// exponential back-off and jitter, keeps pub/sub subscriptions and client-side-caching tracking alive across
/// reconnects, and on graceful shutdown lets in-flight commands finish before closing.
///
/// ```swift
/// let client = RedisClient(configuration: try .init(url: "redis://127.0.0.1:6379"), logger: logger)
/// try await withThrowingDiscardingTaskGroup { group in
///     group.addTask { try await client.run() }
///     try await client.labelled(.cache).set("greeting", to: "hello")
/// }
/// ```
///
/// While no connection is up after a failure, commands fail at once with `.connectionUnavailable` rather than wait:
/// callers on a hot path never hang on a dead server. Commands sent before the first connection is made wait for it,
/// up to their timeout.
public final class RedisClient: Service, RedisCommandSending {
    /// The configuration the client was made with.
    public let configuration: RedisClientConfiguration
    /// Every command this client wrote, by component and command.
    public let accounting: RedisCommandAccounting
    /// Commands sent on the client directly are counted as `unlabelled`; use `labelled(_:)` to label them.
    public let component: RedisComponent = .unlabelled

    let logger: Logger
    /// The event loop all of this client's connections live on. Code running on it (for example in an actor whose
    /// executor is `eventLoop.executor`) sends and receives without any thread hop.
    public let eventLoop: any EventLoop
    let sslContext: NIOSSLContext?
    let pubSub: RedisPubSubHub
    let tracking: RedisTrackingHub
    let dedicated: RedisDedicatedPool
    /// Cluster mode's routing, idle until a handshake says the server is a cluster node.
    let cluster: RedisClusterRouter
    private let pause: ReconnectPause
    private let state = Mutex(StateMachine())

    /// Makes a client. Nothing connects until ``run()``.
    ///
    /// - Throws: ``RedisClientError`` with code `.tls` when the TLS configuration is invalid.
    public init(
        configuration: RedisClientConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        accounting: RedisCommandAccounting = RedisCommandAccounting(),
        logger: Logger = Logger(label: "floodgate.redis")
    ) throws {
        var logger = logger
        logger[metadataKey: "redis.server"] = "\(configuration.host):\(configuration.port)"
        self.configuration = configuration
        self.accounting = accounting
        self.logger = logger
        self.eventLoop = eventLoopGroup.next()
        self.sslContext = try RedisConnection.makeSSLContext(configuration)
        self.pubSub = RedisPubSubHub(eventLoop: eventLoop, logger: logger)
        self.tracking = RedisTrackingHub(logger: logger)
        self.dedicated = RedisDedicatedPool(limit: configuration.dedicatedConnectionLimit)
        self.cluster = RedisClusterRouter(
            configuration: configuration,
            eventLoop: eventLoop,
            accounting: accounting,
            sslContext: sslContext,
            tracking: tracking,
            logger: logger
        )
        self.pause = ReconnectPause(eventLoop: eventLoop)
    }

    // MARK: Sending

    public func send(_ command: RedisCommand, component: RedisComponent) async throws -> RESPValue {
        if cluster.isActive { return try await cluster.send(command, component: component) }
        let connection = try await sharedConnection()
        // Cluster mode can be learnt while waiting for the first connection.
        if cluster.isActive { return try await cluster.send(command, component: component) }
        return try await connection.send(command, component: component, timeout: nil)
    }

    /// Sends commands back to back on the shared connection (one write, nothing interleaved) and returns each
    /// command's outcome in order.
    public func pipeline(
        _ commands: [RedisCommand],
        component: RedisComponent = .unlabelled
    ) async throws -> [Result<RESPValue, RedisClientError>] {
        if cluster.isActive { return try await cluster.pipeline(commands, component: component) }
        let connection = try await sharedConnection()
        if cluster.isActive { return try await cluster.pipeline(commands, component: component) }
        let replies = try await connection.sendBatch(commands, component: component)
        return replies.map { reply in Result { () throws(RedisClientError) in try reply.throwingServerError() } }
    }

    /// Runs commands atomically in `MULTI`/`EXEC`, written back to back on the shared connection so no other
    /// caller's command can land inside the transaction. Returns each command's outcome.
    ///
    /// On a cluster every key must be in one slot (else `.crossSlot`, before anything is sent).
    /// For optimistic locking with `WATCH`, use ``withDedicatedConnection(forKey:_:)``.
    public func transaction(
        _ commands: [RedisCommand],
        component: RedisComponent = .unlabelled
    ) async throws -> [Result<RESPValue, RedisClientError>] {
        if cluster.isActive { return try await cluster.transaction(commands, component: component) }
        let connection = try await sharedConnection()
        if cluster.isActive { return try await cluster.transaction(commands, component: component) }
        let replies = try await connection.sendBatch(
            [RedisCommand("MULTI")] + commands + [RedisCommand("EXEC")],
            component: component
        )
        let exec = replies[replies.count - 1]
        if case .null = exec { throw RedisClientError(.server, "EXECABORT transaction aborted") }
        let results = try exec.throwingServerError().elements()
        return results.map { reply in Result { () throws(RedisClientError) in try reply.throwingServerError() } }
    }

    /// Leases a dedicated connection from a small bounded pool, for blocking commands and `WATCH` transactions.
    /// On a cluster it is a connection to the primary serving `key` (any primary without one).
    public func withDedicatedConnection<Result: Sendable>(
        forKey key: String? = nil,
        _ body: (RedisConnection) async throws -> Result
    ) async throws -> Result {
        if cluster.isActive { return try await cluster.withDedicatedConnection(forKey: key, body) }
        return try await dedicated.withConnection(
            open: {
                try await RedisConnection.connect(
                    configuration: self.configuration,
                    eventLoop: self.eventLoop,
                    accounting: self.accounting,
                    sslContext: self.sslContext,
                    logger: self.logger
                )
            },
            body
        )
    }

    /// The RESP version of the shared connection (3 or 2), or nil while not connected.
    public var protocolVersion: Int? { state.withLock { $0.connection?.protocolVersion } }

    /// Whether the shared connection is up.
    public var isConnected: Bool { state.withLock { $0.connection?.isActive ?? false } }

    func sharedConnection() async throws -> RedisConnection {
        let eventLoop = self.eventLoop
        let next = state.withLock { $0.connectionWanted { eventLoop.makePromise(of: RedisConnection.self) } }
        switch next {
        case .use(let connection):
            return connection
        case .fail(let error):
            throw error
        case .wait(let promise):
            let timeout = max(configuration.connectTimeout, configuration.commandTimeout ?? .zero)
            let timer = eventLoop.scheduleTask(in: TimeAmount(timeout)) {
                promise.fail(
                    RedisClientError(.timeout, "no connection to Redis within \(timeout) (is RedisClient.run() running?)")
                )
            }
            defer { timer.cancel() }
            return try await promise.futureResult.get()
        }
    }

    // MARK: Service

    /// Connects and keeps the shared connection, subscriptions and tracking alive until graceful shutdown or
    /// cancellation. In-flight commands get up to the command timeout to finish; later commands fail with
    /// `.clientShutdown`.
    public func run() async throws {
        let starting = state.withLock { $0.start() }
        guard starting else { throw RedisClientError(.invalidConfiguration, "RedisClient.run() was called twice") }
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await withDiscardingTaskGroup { group in
                    group.addTask { await self.maintainSharedConnection() }
                    group.addTask { await self.pubSub.run(client: self) }
                    group.addTask { await self.cluster.maintainTopology() }
                }
            } onCancel: {
                self.shutdown()
            }
        } onGracefulShutdown: {
            self.shutdown()
        }
        await dedicated.closeAll()
        await cluster.closeDedicatedConnections()
        logger.debug("Redis client stopped")
    }

    private var isShutDown: Bool { state.withLock { $0.isShutDown } }

    private func shutdown() {
        let (connection, waiters) = state.withLock { $0.shutDown() }
        let error = RedisClientError(.clientShutdown, "the Redis client has shut down")
        for waiter in waiters { waiter.fail(error) }
        pause.cancel()
        cluster.shutdown()
        pubSub.shutdown()
        tracking.finish()
        let drainTime = TimeAmount(configuration.commandTimeout ?? .seconds(2))
        connection?.closeWhenDrained(deadline: .now() + drainTime)
    }

    private func maintainSharedConnection() async {
        await RedisReconnectLoop(pause: pause, backoff: configuration.reconnectBackoff).run(
            while: { !isShutDown },
            open: { target in try await openConnection(target: target) },
            serve: { connection, failedBefore in
                let tracking = self.tracking
                try await connection.setPushHandler(subscriberMode: false) { push in tracking.handlePush(push) }
                do {
                    try await adoptClusterIfNeeded(connection)
                } catch {
                    await connection.close()
                    throw error
                }
                guard install(connection) else {
                    await connection.close()
                    return false
                }
                if failedBefore > 0 { logger.info("reconnected to Redis", metadata: ["redis.attempts": "\(failedBefore)"]) }
                await tracking.connectionEstablished(connection)
                try? await connection.closeFuture.get()
                cluster.controlLost(connection)
                state.withLock { $0.closed(connection) }
                tracking.connectionLost()
                if !isShutDown { logger.warning("connection to Redis lost; reconnecting") }
                return true
            },
            failed: { error, attempt in
                if isShutDown { return }
                let error = error as? RedisClientError ?? RedisClientError(.connectFailed, "\(error)")
                let waiters = state.withLock { $0.connectFailed(error) }
                for waiter in waiters { waiter.fail(RedisClientError(.connectionUnavailable, error.message)) }
                if attempt == 1 {
                    logger.warning("cannot connect to Redis; retrying with back-off", metadata: ["error": "\(error)"])
                } else {
                    logger.debug("Redis connection attempt failed", metadata: ["error": "\(error)", "attempt": "\(attempt)"])
                }
                // A rejection (credentials, certificate) will not fix itself: say it at once, then every 60th attempt
                // (about a minute at the back-off's ceiling), not on every attempt.
                if error.code == .authentication || error.code == .tls, attempt == 1 || attempt.isMultiple(of: 60) {
                    logger.error("Redis rejected the connection: \(error.message)", metadata: ["redis.attempts": "\(attempt)"])
                }
            }
        )
    }

    /// Opens a connection to the server of the URL or, once the client knows it talks to a cluster, to its
    /// `target`th node in turn (the URL's, the seeds, then every node of the last topology).
    func openConnection(target: Int) async throws -> RedisConnection {
        try await RedisConnection.connect(
            configuration: cluster.isActive ? configuration.pointing(at: cluster.reconnectTarget(attempt: target)) : configuration,
            eventLoop: eventLoop,
            accounting: accounting,
            sslContext: sslContext,
            logger: logger
        )
    }

    /// Enters (or stays in) cluster mode when the configuration and the server's handshake say so.
    private func adoptClusterIfNeeded(_ connection: RedisConnection) async throws {
        switch configuration.cluster {
        case .disabled:
            return
        case .automatic:
            guard connection.isClusterNode || cluster.isActive else { return }
        case .enabled:
            break
        }
        try await cluster.adopt(connection)
    }

    private func install(_ connection: RedisConnection) -> Bool {
        guard let waiters = state.withLock({ $0.connected(connection) }) else { return false }
        for waiter in waiters { waiter.succeed(connection) }
        return true
    }
}

extension RedisClient {
    /// How many replies the shared connection is waiting for; 0 while not connected.
    public func inFlightCount() async -> Int {
        guard let connection = state.withLock({ $0.connection }) else { return 0 }
        return await connection.inFlightCount()
    }
}
