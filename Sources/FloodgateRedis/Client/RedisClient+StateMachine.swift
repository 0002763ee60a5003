import NIOCore

extension RedisClient {
    /// The client's shared connection, as a pure state machine: whether the client runs, the connection in use, the
    /// callers waiting for the first one, and why the last one was lost. The client performs what it returns.
    ///
    /// Before the first connection (or failed attempt) callers wait for it, up to their timeout; after a failure,
    /// while no connection is up, they fail at once with `.connectionUnavailable` — a hot path never hangs on a dead
    /// server.
    struct StateMachine {
        enum Phase { case notStarted, running, shutDown }

        /// What a caller that wants the connection does.
        enum ConnectionAction {
            case use(RedisConnection)
            /// Wait on the promise made for it; the first connection is on its way.
            case wait(EventLoopPromise<RedisConnection>)
            case fail(RedisClientError)
        }

        private(set) var phase = Phase.notStarted
        private(set) var connection: RedisConnection?
        private var lastError: RedisClientError?
        /// Whether the client has been connected, or failed to connect, since `run()` began.
        private var settled = false
        private var waiters: [EventLoopPromise<RedisConnection>] = []

        /// `run()` began; false when it had already.
        mutating func start() -> Bool {
            guard phase == .notStarted else { return false }
            phase = .running
            return true
        }

        var isShutDown: Bool { phase == .shutDown }

        mutating func connectionWanted(makePromise: () -> EventLoopPromise<RedisConnection>) -> ConnectionAction {
            if let connection, phase != .shutDown {
                // A connection whose channel just went inactive is down, even before its close is handled.
                if connection.isActive { return .use(connection) }
                return .fail(RedisClientError(.connectionUnavailable, "not connected to Redis: connection to Redis lost"))
            }
            switch phase {
            case .shutDown:
                return .fail(RedisClientError(.clientShutdown, "the Redis client has shut down"))
            case .running where settled:
                let reason = lastError.map { ": \($0.message)" } ?? ""
                return .fail(RedisClientError(.connectionUnavailable, "not connected to Redis\(reason)"))
            case .notStarted, .running:
                let promise = makePromise()
                waiters.append(promise)
                return .wait(promise)
            }
        }

        /// A connection is up: the waiters to hand it to, or nil when the client shut down meanwhile (close it).
        mutating func connected(_ connection: RedisConnection) -> [EventLoopPromise<RedisConnection>]? {
            guard phase != .shutDown else { return nil }
            self.connection = connection
            lastError = nil
            settled = true
            defer { waiters = [] }
            return waiters
        }

        /// An attempt failed: the waiters to fail.
        mutating func connectFailed(_ error: RedisClientError) -> [EventLoopPromise<RedisConnection>] {
            lastError = error
            settled = true
            defer { waiters = [] }
            return waiters
        }

        /// The connection closed.
        mutating func closed(_ connection: RedisConnection) {
            guard self.connection === connection else { return }
            self.connection = nil
            lastError = RedisClientError(.connectionClosed, "connection to Redis lost")
        }

        /// The connection to close and the waiters to fail.
        mutating func shutDown() -> (RedisConnection?, [EventLoopPromise<RedisConnection>]) {
            defer {
                phase = .shutDown
                connection = nil
                waiters = []
            }
            return (connection, waiters)
        }
    }
}
