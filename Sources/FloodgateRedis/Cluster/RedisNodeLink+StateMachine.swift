import NIOCore

/// The life of the shared connection to one cluster node, as a pure state machine: it decides, and its owner
/// (``RedisClusterRouter``) connects, fails or wakes callers as told.
///
/// A caller that finds no connection starts one; callers arriving meanwhile wait for it. A failed attempt fails
/// its waiters and, until `retryAt`, every later caller at once — a dead node costs no connect per command.
struct RedisNodeLinkStateMachine {
    enum State {
        case idle
        case connecting(waiters: [EventLoopPromise<RedisConnection>])
        case connected(RedisConnection)
        case backingOff(until: NIODeadline, error: RedisClientError)
        case shutDown
    }

    /// What a caller that wants the connection does.
    enum ConnectionAction {
        case use(RedisConnection)
        /// Wait on the promise the caller handed in; another caller is connecting.
        case wait
        /// Connect, then report with ``connected(_:)`` or ``connectFailed(_:retryAt:)``; wait on the promise.
        case connect
        case fail(RedisClientError)
    }

    private(set) var state = State.idle
    /// Consecutive failed attempts, for the back-off.
    private(set) var failures = 0

    /// A caller wants the connection; `promise` is where it will wait if it has to.
    mutating func connectionWanted(now: NIODeadline, promise: EventLoopPromise<RedisConnection>) -> ConnectionAction {
        switch state {
        case .connected(let connection) where connection.isActive:
            return .use(connection)
        case .connected, .idle:
            state = .connecting(waiters: [promise])
            return .connect
        case .connecting(var waiters):
            waiters.append(promise)
            state = .connecting(waiters: waiters)
            return .wait
        case .backingOff(let until, let error):
            guard now >= until else { return .fail(error) }
            state = .connecting(waiters: [promise])
            return .connect
        case .shutDown:
            return .fail(RedisClientError(.clientShutdown, "the Redis client has shut down"))
        }
    }

    /// The attempt succeeded: the waiters to wake, or nil when the link was shut down meanwhile (close it).
    mutating func connected(_ connection: RedisConnection) -> [EventLoopPromise<RedisConnection>]? {
        guard case .connecting(let waiters) = state else { return nil }
        state = .connected(connection)
        failures = 0
        return waiters
    }

    /// The attempt failed: the waiters to fail.
    mutating func connectFailed(_ error: RedisClientError, retryAt: NIODeadline) -> [EventLoopPromise<RedisConnection>] {
        guard case .connecting(let waiters) = state else { return [] }
        failures += 1
        state = .backingOff(until: retryAt, error: RedisClientError(.connectionUnavailable, error.message))
        return waiters
    }

    /// The connection closed; whether it was this link's current one.
    mutating func closed(_ connection: RedisConnection) -> Bool {
        guard case .connected(let current) = state, current === connection else { return false }
        state = .idle
        return true
    }

    /// Shuts the link down: the connection to close and the waiters to fail.
    mutating func shutDown() -> (RedisConnection?, [EventLoopPromise<RedisConnection>]) {
        defer { state = .shutDown }
        switch state {
        case .connected(let connection): return (connection, [])
        case .connecting(let waiters): return (nil, waiters)
        case .idle, .backingOff, .shutDown: return (nil, [])
        }
    }
}
