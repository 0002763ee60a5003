import Synchronization

/// A small bounded pool of dedicated connections, for commands that need a connection to themselves.
final class RedisDedicatedPool: Sendable {
    private struct State {
        var idle: [RedisConnection] = []
        var open = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
        var closed = false
    }

    private let limit: Int
    private let state = Mutex(State())

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    func withConnection<Result: Sendable>(
        open: () async throws -> RedisConnection,
        _ body: (RedisConnection) async throws -> Result
    ) async throws -> Result {
        let connection = try await lease(open: open)
        do {
            let result = try await body(connection)
            release(connection)
            return result
        } catch {
            release(connection)
            throw error
        }
    }

    private func lease(open: () async throws -> RedisConnection) async throws -> RedisConnection {
        while true {
            enum Next { case use(RedisConnection), open, wait }
            let next: Next = try state.withLock { state in
                guard !state.closed else { throw RedisClientError(.clientShutdown, "the Redis client has shut down") }
                while let connection = state.idle.popLast() {
                    if connection.isActive { return .use(connection) }
                    state.open -= 1
                }
                if state.open < limit {
                    state.open += 1
                    return .open
                }
                return .wait
            }
            switch next {
            case .use(let connection):
                return connection
            case .open:
                do {
                    return try await open()
                } catch {
                    vacate()
                    throw error
                }
            case .wait:
                await withCheckedContinuation { continuation in
                    let resumeNow = state.withLock { state in
                        if state.closed || state.open < limit || !state.idle.isEmpty { return true }
                        state.waiters.append(continuation)
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            }
        }
    }

    private func release(_ connection: RedisConnection) {
        let (waiter, closeIt) = state.withLock { state in
            let keep = connection.isActive && !state.closed
            if keep { state.idle.append(connection) } else { state.open -= 1 }
            return (state.waiters.isEmpty ? nil : state.waiters.removeFirst(), !keep)
        }
        if closeIt { connection.closeWhenDrained(deadline: .now()) }
        waiter?.resume()
    }

    private func vacate() {
        let waiter = state.withLock { state in
            state.open -= 1
            return state.waiters.isEmpty ? nil : state.waiters.removeFirst()
        }
        waiter?.resume()
    }

    func closeAll() async {
        let (idle, waiters) = state.withLock { state in
            state.closed = true
            defer {
                state.idle = []
                state.waiters = []
            }
            return (state.idle, state.waiters)
        }
        for waiter in waiters { waiter.resume() }
        for connection in idle { await connection.close() }
    }
}
