import FloodgateRESP
import Logging
import NIOCore
import Synchronization

/// Keeps a client's subscriptions on one dedicated pub/sub connection: subscribes when asked, routes messages to
/// each subscription's stream, unsubscribes when a stream ends, and subscribes everything again after a reconnect.
final class RedisPubSubHub: Sendable {
    /// What one subscription listens to.
    private struct Interest {
        var channels: Set<String>
        var patterns: Set<String>
        var component: RedisComponent
    }

    private struct Waiter {
        var channels: Set<String>
        var patterns: Set<String>
        var promise: EventLoopPromise<Void>
    }

    private struct State {
        var subscribers = AsyncListeners<RedisSubscription.Event, Interest>()
        var connection: RedisConnection?
        var confirmedChannels: Set<String> = []
        var confirmedPatterns: Set<String> = []
        var waiters: [Waiter] = []
        var demand: EventLoopPromise<Void>?
        var shutDown = false
        var hasConnectedBefore = false

        var wantedChannels: Set<String> { subscribers.tags.reduce(into: []) { $0.formUnion($1.channels) } }
        var wantedPatterns: Set<String> { subscribers.tags.reduce(into: []) { $0.formUnion($1.patterns) } }

        mutating func takeSatisfiedWaiters() -> [EventLoopPromise<Void>] {
            var satisfied: [EventLoopPromise<Void>] = []
            waiters.removeAll { waiter in
                guard waiter.channels.isSubset(of: confirmedChannels), waiter.patterns.isSubset(of: confirmedPatterns)
                else { return false }
                satisfied.append(waiter.promise)
                return true
            }
            return satisfied
        }
    }

    private let eventLoop: any EventLoop
    private let logger: Logger
    private let state = Mutex(State())
    private let pause: ReconnectPause

    init(eventLoop: any EventLoop, logger: Logger) {
        self.eventLoop = eventLoop
        self.logger = logger
        self.pause = ReconnectPause(eventLoop: eventLoop)
    }

    /// Adds a subscription and returns once the server has confirmed every channel and pattern of it.
    func subscribe(
        channels: Set<String>,
        patterns: Set<String>,
        component: RedisComponent,
        timeout: Duration?
    ) async throws -> RedisSubscription {
        guard !channels.isEmpty || !patterns.isEmpty else {
            throw RedisClientError(.invalidConfiguration, "subscribe needs at least one channel or pattern")
        }
        let (stream, continuation) = AsyncStream.makeStream(of: RedisSubscription.Event.self)
        let confirmed = eventLoop.makePromise(of: Void.self)
        let registered = state.withLock { state -> (Int, RedisConnection?, EventLoopPromise<Void>?, Set<String>, Set<String>)? in
            guard !state.shutDown else { return nil }
            let newChannels = channels.subtracting(state.wantedChannels)
            let newPatterns = patterns.subtracting(state.wantedPatterns)
            let id = state.subscribers.add(
                continuation,
                tag: Interest(channels: channels, patterns: patterns, component: component)
            )
            state.waiters.append(Waiter(channels: channels, patterns: patterns, promise: confirmed))
            let satisfied = state.takeSatisfiedWaiters()
            for promise in satisfied { promise.succeed() }
            let demand = state.demand
            state.demand = nil
            return (id, state.connection, demand, newChannels, newPatterns)
        }
        guard let (id, connection, demand, newChannels, newPatterns) = registered else {
            let error = RedisClientError(.clientShutdown, "the Redis client has shut down")
            confirmed.fail(error)
            throw error
        }
        continuation.onTermination = { [weak self] _ in self?.remove(id) }
        demand?.succeed()
        if let connection {
            if !newChannels.isEmpty {
                connection.sendWithoutReply(RedisCommand("SUBSCRIBE", arguments: newChannels.sorted()), component: component)
            }
            if !newPatterns.isEmpty {
                connection.sendWithoutReply(RedisCommand("PSUBSCRIBE", arguments: newPatterns.sorted()), component: component)
            }
        }
        let timer = timeout.map { timeout in
            eventLoop.scheduleTask(in: TimeAmount(timeout)) {
                confirmed.fail(RedisClientError(.timeout, "Redis did not confirm the subscription within \(timeout)"))
            }
        }
        do {
            try await confirmed.futureResult.get()
            timer?.cancel()
        } catch {
            timer?.cancel()
            continuation.finish()
            throw error
        }
        return RedisSubscription(stream: stream)
    }

    private func remove(_ id: Int) {
        let (connection, goneChannels, gonePatterns, component) = state.withLock { state in
            guard let removed = state.subscribers.remove(id) else {
                return (nil as RedisConnection?, Set<String>(), Set<String>(), RedisComponent.unlabelled)
            }
            return (
                state.connection, removed.channels.subtracting(state.wantedChannels),
                removed.patterns.subtracting(state.wantedPatterns), removed.component
            )
        }
        guard let connection else { return }
        // Never send a bare UNSUBSCRIBE: without arguments it drops every channel.
        if !goneChannels.isEmpty {
            connection.sendWithoutReply(RedisCommand("UNSUBSCRIBE", arguments: goneChannels.sorted()), component: component)
        }
        if !gonePatterns.isEmpty {
            connection.sendWithoutReply(RedisCommand("PUNSUBSCRIBE", arguments: gonePatterns.sorted()), component: component)
        }
    }

    /// The number of live subscriptions.
    var subscriptionCount: Int { state.withLock { $0.subscribers.count } }

    // MARK: Push messages

    private func handlePush(_ push: RESPValue) {
        guard case .push(let items) = push.withoutAttributes, let kind = items.first?.string else { return }
        switch kind {
        case "message" where items.count >= 3:
            guard let channel = items[1].string, let payload = try? items[2].optionalBytes() else { return }
            deliver(RedisPubSubMessage(channel: channel, payload: payload)) { $0.channels.contains(channel) }
        case "pmessage" where items.count >= 4:
            guard let pattern = items[1].string, let channel = items[2].string,
                let payload = try? items[3].optionalBytes()
            else { return }
            deliver(RedisPubSubMessage(channel: channel, pattern: pattern, payload: payload)) {
                $0.patterns.contains(pattern)
            }
        case "subscribe", "psubscribe", "unsubscribe", "punsubscribe":
            guard items.count >= 2, let name = items[1].string else { return }
            let satisfied = state.withLock { state in
                switch kind {
                case "subscribe": state.confirmedChannels.insert(name)
                case "psubscribe": state.confirmedPatterns.insert(name)
                case "unsubscribe": state.confirmedChannels.remove(name)
                default: state.confirmedPatterns.remove(name)
                }
                return state.takeSatisfiedWaiters()
            }
            for promise in satisfied { promise.succeed() }
        default:
            break
        }
    }

    private func deliver(_ message: RedisPubSubMessage, to matches: (Interest) -> Bool) {
        let targets = state.withLock { $0.subscribers.targets(where: matches) }
        for continuation in targets { continuation.yield(.message(message)) }
    }

    // MARK: Lifecycle

    /// Keeps the pub/sub connection up while there are subscriptions. Returns at shutdown.
    func run(client: RedisClient) async {
        await RedisReconnectLoop(pause: pause, backoff: client.configuration.reconnectBackoff).run(
            while: { await waitForDemand() },
            // On a cluster any node will do: a PUBLISH reaches every node's subscribers.
            open: { target in try await client.openConnection(target: target) },
            serve: { connection, _ in
                try await connection.setPushHandler(subscriberMode: connection.protocolVersion == 2) { [weak self] push in
                    self?.handlePush(push.withoutAttributes.asPush)
                }
                guard install(connection) else {
                    await connection.close()
                    return false
                }
                try? await connection.closeFuture.get()
                let reconnectedSubscribers = state.withLock { state in
                    state.connection = nil
                    state.confirmedChannels = []
                    state.confirmedPatterns = []
                    return state.shutDown ? [] : state.subscribers.targets()
                }
                for subscriber in reconnectedSubscribers { subscriber.yield(.reconnected) }
                if !reconnectedSubscribers.isEmpty { logger.warning("pub/sub connection lost; resubscribing") }
                return true
            },
            failed: { error, _ in logger.debug("pub/sub connection attempt failed", metadata: ["error": "\(error)"]) }
        )
    }

    /// Publishes the connection and subscribes everything wanted on it.
    private func install(_ connection: RedisConnection) -> Bool {
        let subscribers: [Interest]? = state.withLock { state in
            guard !state.shutDown else { return nil }
            state.connection = connection
            return state.subscribers.tags
        }
        guard let subscribers else { return false }
        for subscriber in subscribers {
            if !subscriber.channels.isEmpty {
                connection.sendWithoutReply(
                    RedisCommand("SUBSCRIBE", arguments: subscriber.channels.sorted()),
                    component: subscriber.component
                )
            }
            if !subscriber.patterns.isEmpty {
                connection.sendWithoutReply(
                    RedisCommand("PSUBSCRIBE", arguments: subscriber.patterns.sorted()),
                    component: subscriber.component
                )
            }
        }
        return true
    }

    /// Returns true once there is a subscription to serve, false at shutdown.
    private func waitForDemand() async -> Bool {
        let promise: EventLoopPromise<Void>? = state.withLock { state in
            if state.shutDown { return nil }
            if !state.subscribers.isEmpty { return nil }
            let promise = eventLoop.makePromise(of: Void.self)
            state.demand = promise
            return promise
        }
        if let promise { try? await promise.futureResult.get() }
        return state.withLock { !$0.shutDown }
    }

    func shutdown() {
        let (subscribers, connection, demand, waiters) = state.withLock { state in
            state.shutDown = true
            defer { state.waiters = [] }
            return (state.subscribers.removeAll(), state.connection, state.demand, state.waiters)
        }
        demand?.succeed()
        pause.cancel()
        let error = RedisClientError(.clientShutdown, "the Redis client has shut down")
        for waiter in waiters { waiter.promise.fail(error) }
        for subscriber in subscribers { subscriber.finish() }
        connection?.closeWhenDrained(deadline: .now())
    }
}

extension RESPValue {
    /// A RESP2 pub/sub array seen on a subscribed connection, as the push it stands for.
    fileprivate var asPush: RESPValue {
        if case .array(let items) = self { return .push(items) }
        return self
    }
}
