import FloodgateRESP
import Logging
import NIOCore
import NIOSSL
import Synchronization

/// A ``RedisClient``'s cluster mode: which primary serves each slot, one shared pipelined connection per primary,
/// and the routing of every command to the primary of its keys' slot.
///
/// `MOVED` updates the slot's owner, asks for a fresh topology and retries; `ASK` follows once with `ASKING`; after
/// ``maximumRedirects`` redirects the command fails with `.clusterRedirects`. A primary that cannot be reached
/// fails its commands at once with `.connectionUnavailable` and asks for a fresh topology, which finds the replica
/// promoted in its place.
final class RedisClusterRouter: Sendable {
    /// How many `MOVED`/`ASK` redirects one command may follow.
    static let maximumRedirects = 5
    /// The pause after a topology refresh; it doubles, up to ``longestRefreshPause``, while refreshes find nothing
    /// new (a primary down with no replica to promote costs a `CLUSTER SHARDS` every few seconds, not ten a second).
    static let refreshPause: Duration = .milliseconds(100)
    static let longestRefreshPause: Duration = .seconds(5)

    struct State {
        var topology: RedisClusterTopology?
        /// The connection the client made to the node of its URL: keyless commands and topology reads go there.
        var control: RedisConnection?
        var links: [RedisNodeAddress: RedisNodeLinkStateMachine] = [:]
        var dedicated: [RedisNodeAddress: RedisDedicatedPool] = [:]
        var refreshWanted = false
        /// The topology is known but the primaries' connections may not be open yet.
        var linksWanted = false
        var refreshDemand: EventLoopPromise<Void>?
        var shutDown = false
    }

    let configuration: RedisClientConfiguration
    let eventLoop: any EventLoop
    let accounting: RedisCommandAccounting
    let sslContext: NIOSSLContext?
    let tracking: RedisTrackingHub
    let logger: Logger
    let state = Mutex(State())
    let active = Atomic<Bool>(false)
    let pause: ReconnectPause

    init(
        configuration: RedisClientConfiguration,
        eventLoop: any EventLoop,
        accounting: RedisCommandAccounting,
        sslContext: NIOSSLContext?,
        tracking: RedisTrackingHub,
        logger: Logger
    ) {
        self.configuration = configuration
        self.eventLoop = eventLoop
        self.accounting = accounting
        self.sslContext = sslContext
        self.tracking = tracking
        self.logger = logger
        self.pause = ReconnectPause(eventLoop: eventLoop)
    }

    /// Whether the client talks to a cluster (known from the first connection's handshake).
    var isActive: Bool { active.load(ordering: .relaxed) }

    /// The last topology read, nil before cluster mode is known.
    var topology: RedisClusterTopology? { state.withLock { $0.topology } }

    // MARK: Control connection

    /// Takes the client's connection to a cluster node as the control connection, reading the topology through it.
    func adopt(_ connection: RedisConnection) async throws {
        let topology = try await Self.readTopology(
            on: connection,
            host: connection.remoteHost ?? configuration.host,
            tls: configuration.tls != nil
        )
        guard topology.coveredSlots > 0 else {
            throw RedisClientError(.invalidConfiguration, "the Redis cluster serves no slot yet (is it created?)")
        }
        state.withLock { state in
            state.control = connection
            state.topology = topology
        }
        requestLinks()
        if !active.exchange(true, ordering: .relaxed) {
            logger.info(
                "Redis is a cluster",
                metadata: ["redis.primaries": "\(topology.primaries.count)", "redis.slots": "\(topology.coveredSlots)"]
            )
        }
    }

    func controlLost(_ connection: RedisConnection) {
        state.withLock { state in
            if state.control === connection { state.control = nil }
        }
    }

    /// Where the client's own connection should go next: the URL's node and its seeds first, then every node the
    /// last topology named, so losing the URL's node does not lose the cluster.
    func reconnectTarget(attempt: Int) -> RedisNodeAddress {
        let seeds = [RedisNodeAddress(host: configuration.host, port: configuration.port)] + configuration.seeds
        let known = state.withLock { $0.topology?.nodes ?? [] }
        var candidates = seeds
        for node in known.map(dialled) where !candidates.contains(node) { candidates.append(node) }
        return candidates[attempt % candidates.count]
    }

    // MARK: Sending

    /// Sends a command to the primary of its keys' slot (keyless commands: the control connection), following
    /// redirects; error replies throw.
    func send(_ command: RedisCommand, component: RedisComponent) async throws -> RESPValue {
        switch command.clusterRoute {
        case .crossSlot:
            throw Self.crossSlot(command.accountingName)
        case .anyNode:
            return try await sendAnywhere(command, component: component).throwingServerError()
        case .slot(let slot):
            return try await send(command, slot: slot, component: component).throwingServerError()
        }
    }

    /// Sends to the primary of `slot`, following redirects; returns the final reply, error replies as values.
    private func send(_ command: RedisCommand, slot: Int, component: RedisComponent) async throws -> RESPValue {
        var asking: RedisNodeAddress?
        for _ in 0...Self.maximumRedirects {
            let address = try asking ?? owner(of: slot)
            let connection = try await connection(to: address)
            let reply: RESPValue
            if asking != nil {
                let replies = try await connection.sendBatch([RedisCommand("ASKING"), command], component: component)
                reply = replies[1]
            } else {
                reply = try await connection.sendRaw(command, component: component)
            }
            guard let redirect = redirect(in: reply, from: address) else { return reply }
            asking = nil
            switch redirect.kind {
            case .moved: moved(redirect)
            case .ask: asking = redirect.address
            }
        }
        throw RedisClientError(
            .clusterRedirects,
            "\(command.accountingName) was redirected more than \(Self.maximumRedirects) times (slot \(slot) is moving?)"
        )
    }

    /// A keyless command: on the control connection, else on the first primary that answers.
    func sendAnywhere(_ command: RedisCommand, component: RedisComponent) async throws -> RESPValue {
        if let control = state.withLock({ $0.control }), control.isActive {
            return try await control.sendRaw(command, component: component)
        }
        var lastError: (any Error)?
        for address in state.withLock({ $0.topology?.primaries ?? [] }) {
            do {
                return try await connection(to: address).sendRaw(command, component: component)
            } catch let error as RedisClientError where error.code == .connectionUnavailable {
                lastError = error
            }
        }
        throw lastError ?? RedisClientError(.connectionUnavailable, "no Redis cluster node is reachable")
    }

    /// Sends one command to one node (for commands every primary must run: `SCAN`, `FLUSHALL`, `INFO`, …).
    func send(_ command: RedisCommand, to address: RedisNodeAddress, component: RedisComponent) async throws -> RESPValue {
        try await connection(to: address).send(command, component: component)
    }

    /// Runs a pipeline: commands for one node go back to back on its connection, nodes one after another; a
    /// redirected command is retried on its own. Results come back in the commands' order.
    func pipeline(
        _ commands: [RedisCommand],
        component: RedisComponent
    ) async throws -> [Result<RESPValue, RedisClientError>] {
        var results = [Result<RESPValue, RedisClientError>?](repeating: nil, count: commands.count)
        var groups: [RedisNodeAddress?: [Int]] = [:]
        var order: [RedisNodeAddress?] = []
        for (index, command) in commands.enumerated() {
            let address: RedisNodeAddress?
            switch command.clusterRoute {
            case .crossSlot:
                results[index] = .failure(Self.crossSlot(command.accountingName))
                continue
            case .anyNode: address = nil
            case .slot(let slot): address = try owner(of: slot)
            }
            if groups[address] == nil { order.append(address) }
            groups[address, default: []].append(index)
        }
        for address in order {
            let indices = groups[address]!
            let batch = indices.map { commands[$0] }
            let replies: [RESPValue]
            if let address {
                replies = try await connection(to: address).sendBatch(batch, component: component)
            } else if let control = state.withLock({ $0.control }), control.isActive {
                replies = try await control.sendBatch(batch, component: component)
            } else {
                var collected: [RESPValue] = []
                for command in batch { collected.append(try await sendAnywhere(command, component: component)) }
                replies = collected
            }
            for (position, index) in indices.enumerated() {
                var reply = replies[position]
                if let address, redirect(in: reply, from: address) != nil, case .slot(let slot) = commands[index].clusterRoute {
                    reply = try await send(commands[index], slot: slot, component: component)
                }
                results[index] = Result { () throws(RedisClientError) in try reply.throwingServerError() }
            }
        }
        return results.map { $0! }
    }

    /// Runs `MULTI`/`EXEC` on the primary of the commands' one slot; keys in two slots are refused before anything
    /// is sent. A transaction refused for a moved slot is retried on the new owner.
    func transaction(
        _ commands: [RedisCommand],
        component: RedisComponent
    ) async throws -> [Result<RESPValue, RedisClientError>] {
        var slot: Int?
        for command in commands {
            switch command.clusterRoute {
            case .crossSlot: throw Self.crossSlot(command.accountingName)
            case .anyNode: continue
            case .slot(let commandSlot):
                if let slot, slot != commandSlot {
                    throw RedisClientError(
                        .crossSlot,
                        "a cluster transaction must keep its keys in one slot (slots \(slot) and \(commandSlot)); use a hash tag such as {tenant}"
                    )
                }
                slot = commandSlot
            }
        }
        for _ in 0...Self.maximumRedirects {
            let address = try slot.map { try owner(of: $0) } ?? anyPrimary()
            let replies = try await connection(to: address).sendBatch(
                [RedisCommand("MULTI")] + commands + [RedisCommand("EXEC")],
                component: component
            )
            let queued = replies[1..<(replies.count - 1)]
            if let redirect = queued.lazy.compactMap({ self.redirect(in: $0, from: address) }).first {
                if redirect.kind == .moved { moved(redirect) }
                continue
            }
            let exec = replies[replies.count - 1]
            if case .null = exec { throw RedisClientError(.server, "EXECABORT transaction aborted") }
            let results = try exec.throwingServerError().elements()
            return results.map { reply in Result { () throws(RedisClientError) in try reply.throwingServerError() } }
        }
        throw RedisClientError(.clusterRedirects, "the transaction's slot was redirected more than \(Self.maximumRedirects) times")
    }

    /// A dedicated connection to the primary of `key`'s slot (any primary without a key).
    func withDedicatedConnection<Result: Sendable>(
        forKey key: String?,
        _ body: (RedisConnection) async throws -> Result
    ) async throws -> Result {
        let address = try key.map { try owner(of: RedisHashSlot.of($0)) } ?? anyPrimary()
        let pool = try state.withLock { state -> RedisDedicatedPool in
            guard !state.shutDown else { throw RedisClientError(.clientShutdown, "the Redis client has shut down") }
            if let pool = state.dedicated[address] { return pool }
            let pool = RedisDedicatedPool(limit: configuration.dedicatedConnectionLimit)
            state.dedicated[address] = pool
            return pool
        }
        return try await pool.withConnection(open: { try await self.open(address) }, body)
    }

    /// Every primary of the last topology.
    var primaries: [RedisNodeAddress] { state.withLock { $0.topology?.primaries ?? [] } }

    // MARK: Routing

    func owner(of slot: Int) throws(RedisClientError) -> RedisNodeAddress {
        guard let address = state.withLock({ $0.topology?.primary(forSlot: slot) }) else {
            requestRefresh()
            throw RedisClientError(.connectionUnavailable, "no Redis cluster primary serves slot \(slot)")
        }
        return address
    }

    func anyPrimary() throws(RedisClientError) -> RedisNodeAddress {
        guard let address = state.withLock({ $0.topology?.primaries.first }) else {
            throw RedisClientError(.connectionUnavailable, "the Redis cluster's topology is not known yet")
        }
        return address
    }

    func redirect(in reply: RESPValue, from address: RedisNodeAddress) -> RedisClusterRedirect? {
        switch reply.withoutAttributes {
        case .simpleError(let message), .bulkError(let message):
            return RedisClusterRedirect(String(buffer: message), defaultHost: address.host)
        default:
            return nil
        }
    }

    func moved(_ redirect: RedisClusterRedirect) {
        state.withLock { state in
            state.topology = state.topology?.moving(slot: redirect.slot, to: redirect.address)
        }
        requestRefresh()
    }

    private static func crossSlot(_ name: String) -> RedisClientError {
        RedisClientError(
            .crossSlot,
            "\(name)'s keys are in different cluster slots; keep them in one with a hash tag such as {tenant}"
        )
    }
}
