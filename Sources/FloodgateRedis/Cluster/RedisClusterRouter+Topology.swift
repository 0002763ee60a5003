import FloodgateRESP
import NIOCore

/// Reading the cluster's topology: on demand (a redirect, a lost primary), at most every ``refreshPause``.
extension RedisClusterRouter {
    /// Asks the topology loop for a fresh read (then a connection to every primary).
    func requestRefresh() { wakeTopologyLoop { $0.refreshWanted = true } }

    /// Asks the topology loop for a connection to every primary of the topology already read.
    func requestLinks() { wakeTopologyLoop { $0.linksWanted = true } }

    private func wakeTopologyLoop(_ want: (inout State) -> Void) {
        let demand = state.withLock { state -> EventLoopPromise<Void>? in
            want(&state)
            defer { state.refreshDemand = nil }
            return state.refreshDemand
        }
        demand?.succeed()
    }

    /// Reads the topology whenever asked, at most once per ``refreshPause``, and connects to every primary,
    /// until shutdown.
    func maintainTopology() async {
        var unchanged = 0
        while true {
            let promise = eventLoop.makePromise(of: Void.self)
            let next = state.withLock { state -> (refresh: Bool, links: Bool)? in
                if state.shutDown { return nil }
                let wanted = (refresh: state.refreshWanted, links: state.linksWanted)
                state.refreshWanted = false
                state.linksWanted = false
                if !wanted.refresh && !wanted.links { state.refreshDemand = promise }
                return wanted
            }
            guard let next else {
                promise.succeed()
                return
            }
            if !next.refresh && !next.links {
                try? await promise.futureResult.get()
                continue
            }
            promise.succeed()
            if next.refresh { unchanged = await refresh() ? 0 : unchanged + 1 }
            await connectPrimaries()
            if next.refresh {
                await pause.sleep(for: min(Self.refreshPause * (1 << min(unchanged, 10)), Self.longestRefreshPause))
            }
        }
    }

    /// Opens a connection to every primary that has none, so each one's tracking invalidations arrive and a lost
    /// primary is noticed even while nothing is sent to it.
    func connectPrimaries() async {
        for address in primaries { _ = try? await connection(to: address) }
    }

    /// Reads `CLUSTER SHARDS` from the control connection, else from each known node in turn; whether the
    /// topology changed.
    func refresh() async -> Bool {
        let (control, known) = state.withLock { ($0.control, $0.topology?.nodes ?? []) }
        var sources: [(RedisNodeAddress?, () async throws -> RedisConnection)] = []
        if let control, control.isActive { sources.append((nil, { control })) }
        for address in known { sources.append((address, { try await self.connection(to: address) })) }
        for (address, connect) in sources {
            do {
                let connection = try await connect()
                let host = address?.host ?? connection.remoteHost ?? configuration.host
                let topology = try await Self.readTopology(on: connection, host: host, tls: configuration.tls != nil)
                guard topology.coveredSlots > 0 else { continue }
                return install(topology)
            } catch {
                continue
            }
        }
        logger.debug("no Redis cluster node answered CLUSTER SHARDS; will retry")
        state.withLock { $0.refreshWanted = true }
        return false
    }

    /// Whether it differs from the topology it replaces.
    func install(_ topology: RedisClusterTopology) -> Bool {
        let (stale, waiting, changed) = state.withLock { state in
            let changed = state.topology != topology
            state.topology = topology
            if changed {
                logger.info("Redis cluster topology changed", metadata: ["redis.primaries": "\(topology.primaries)"])
            }
            // Links to nodes that are no longer primaries close once drained, and callers waiting for one being made
            // fail (a retry goes to the slot's new owner); a later command reconnects if needed.
            let primaries = Set(topology.primaries)
            var stale: [RedisConnection] = []
            var waiting: [EventLoopPromise<RedisConnection>] = []
            for address in Array(state.links.keys) where !primaries.contains(address) {
                let (connection, waiters) = state.links[address]!.shutDown()
                if let connection { stale.append(connection) }
                waiting += waiters
                state.links[address] = nil
            }
            return (stale, waiting, changed)
        }
        let moved = RedisClientError(.connectionUnavailable, "that Redis cluster node is no longer a primary; retry")
        for waiter in waiting { waiter.fail(moved) }
        for connection in stale { connection.closeWhenDrained(deadline: .now() + .seconds(2)) }
        return changed
    }

    static func readTopology(on connection: RedisConnection, host: String, tls: Bool) async throws -> RedisClusterTopology {
        do {
            let reply = try await connection.send(RedisCommand("CLUSTER SHARDS"), component: .connection)
            return try RedisClusterTopology.fromShards(reply, defaultHost: host, tls: tls)
        } catch let error as RedisClientError where error.code == .server && !error.isServerError("CLUSTERDOWN") {
            // Before Redis 7: no CLUSTER SHARDS.
            let reply = try await connection.send(RedisCommand("CLUSTER SLOTS"), component: .connection)
            return try RedisClusterTopology.fromSlots(reply, defaultHost: host)
        }
    }
}
