import FloodgateRESP
import Logging
import Synchronization

/// Turns tracking on for the shared connection (and again after every reconnect), reports whether the server
/// allows it, and fans invalidation pushes out to every listener.
final class RedisTrackingHub: Sendable {
    private struct State {
        var wanted: RedisTrackingMode?
        var status = RedisTrackingStatus.off
        var listeners = AsyncListeners<RedisInvalidation, Void>()
        var finished = false
    }

    private let logger: Logger
    private let state = Mutex(State())

    init(logger: Logger) {
        self.logger = logger
    }

    var status: RedisTrackingStatus { state.withLock { $0.status } }

    func invalidations() -> AsyncStream<RedisInvalidation> {
        let (stream, continuation) = AsyncStream.makeStream(of: RedisInvalidation.self)
        let accepted = state.withLock { state -> Int? in
            guard !state.finished else { return nil }
            return state.listeners.add(continuation)
        }
        if let id = accepted {
            continuation.onTermination = { [weak self] _ in
                _ = self?.state.withLock { $0.listeners.remove(id) }
            }
        } else {
            continuation.finish()
        }
        return stream
    }

    /// Records the wanted mode and, when a connection is up, turns tracking on there.
    func enable(_ mode: RedisTrackingMode, on connection: RedisConnection?) async -> RedisTrackingStatus {
        state.withLock { state in
            state.wanted = mode
            state.status = .pending(mode)
        }
        guard let connection else { return status }
        return await apply(mode, on: connection)
    }

    func connectionEstablished(_ connection: RedisConnection) async {
        guard let mode = state.withLock({ $0.wanted }) else { return }
        _ = await apply(mode, on: connection)
    }

    func connectionLost() {
        broadcast(.all(reason: .connectionLost))
        state.withLock { state in
            if case .on(let mode) = state.status { state.status = .pending(mode) }
        }
    }

    func handlePush(_ push: RESPValue) {
        guard case .push(let items) = push, items.first?.string == "invalidate", items.count >= 2 else { return }
        switch items[1] {
        case .null:
            broadcast(.all(reason: .serverFlushed))
        case .array(let keys), .set(let keys):
            broadcast(.keys(keys.compactMap(\.string)))
        default:
            break
        }
    }

    func finish() {
        let listeners: [AsyncStream<RedisInvalidation>.Continuation] = state.withLock { state in
            state.finished = true
            return state.listeners.removeAll()
        }
        for listener in listeners {
            listener.yield(.all(reason: .clientShutdown))
            listener.finish()
        }
    }

    private func broadcast(_ invalidation: RedisInvalidation) {
        let listeners = state.withLock { $0.listeners.targets() }
        for listener in listeners { listener.yield(invalidation) }
    }

    private func apply(_ mode: RedisTrackingMode, on connection: RedisConnection) async -> RedisTrackingStatus {
        let status: RedisTrackingStatus
        if connection.protocolVersion < 3 {
            status = .unavailable(reason: "the connection speaks RESP2; tracking needs RESP3 push messages")
        } else {
            var arguments = ["ON"]
            switch mode {
            case .default(let noLoop):
                if noLoop { arguments.append("NOLOOP") }
            case .broadcast(let prefixes, let noLoop):
                arguments.append("BCAST")
                for prefix in prefixes { arguments += ["PREFIX", prefix] }
                if noLoop { arguments.append("NOLOOP") }
            }
            do {
                try await connection.send(RedisCommand("CLIENT TRACKING", arguments: arguments), component: .connection)
                    .expectOK()
                status = .on(mode)
            } catch let error as RedisClientError where error.code == .server {
                status = .unavailable(reason: error.message)
            } catch {
                // The connection failed meanwhile: stay pending, the next connection tries again.
                return self.status
            }
        }
        state.withLock { $0.status = status }
        if case .on = status { broadcast(.resumed) }
        if case .unavailable(let reason) = status {
            logger.debug("Redis client-side caching unavailable", metadata: ["reason": "\(reason)"])
        }
        return status
    }
}
