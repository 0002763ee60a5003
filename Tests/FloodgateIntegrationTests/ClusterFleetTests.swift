import Floodgate
import FloodgateLocalRedis
import FloodgateRedis
import FloodgateSimulation
import FloodgateTestSupport
import Testing

/// Floodgate instances on a real Redis Cluster (three primaries; a replica each for the failover): the same limits and
/// the same cost as on one server, and decisions that go on while a primary fails over.
@Suite("A fleet on a Redis Cluster", .serialized, .timeLimit(.minutes(5)))
struct ClusterFleetTests {
    struct Outcome {
        /// Calls allowed per tenant and fixed window.
        var allowed: [String: [Int64: Int]] = [:]
        var offered = 0
        /// Every instance's commands but the connections' own (handshakes, topology reads).
        var commands = 0
        var total: Int { allowed.values.reduce(0) { $0 + $1.values.reduce(0, +) } }
        var mostInAWindow: Int { allowed.values.flatMap(\.values).max() ?? 0 }
    }

    static let limit = 20
    static let window: Duration = .seconds(10)

    /// Three instances, 30 tenants each offered 150% of a fixed window's limit, calls rotating over the instances.
    static func replay(onCluster: Bool) async throws -> Outcome {
        var outcome = Outcome()
        try await withFleet(onCluster: onCluster) { fleet in
            let profile = ProviderProfile.generic([.fixedWindow(limit: limit, window: window)])
            let configuration = FleetCoordinationTests.configuration(["api": profile], fleetSize: 3)
            var instances: [FleetHarness.Instance] = []
            for _ in 0..<3 { instances.append(try await fleet.addInstance(configuration)) }
            try await fleet.advance(by: window + .seconds(2), step: .seconds(1), instances: instances)
            if onCluster { #expect(instances.allSatisfy { $0.client.isCluster }) }
            let before = instances.map { $0.client.accounting.snapshot() }
            let tenants = (0..<30).map { "tenant-\($0)" }
            for step in 0..<30 {
                let windowIndex = fleet.clock.now.nanosecondsSince1970 / 10_000_000_000
                for (number, tenant) in tenants.enumerated() {
                    let key = try GuardKey(integration: "api", tenant: tenant)
                    for call in 0..<3 {
                        let instance = instances[(number + call + step) % instances.count]
                        outcome.offered += 1
                        guard let permit = try? await instance.floodgate.acquire(key) else { continue }
                        instance.floodgate.record(permit, .success)
                        outcome.allowed[tenant, default: [:]][windowIndex, default: 0] += 1
                    }
                }
                try await fleet.advance(by: .seconds(1), step: .seconds(1), instances: instances)
            }
            try await fleet.settle(instances: instances)
            for (instance, earlier) in zip(instances, before) {
                let spent = instance.client.accounting.snapshot().subtracting(earlier)
                outcome.commands += spent.total - spent.count(component: .connection)
            }
        }
        return outcome
    }

    @Test func holdsLimitsExactlyAtTheCostOfOneServer() async throws {
        let single = try await Self.replay(onCluster: false)
        let cluster = try await Self.replay(onCluster: true)
        #expect(single.mostInAWindow <= Self.limit && cluster.mostInAWindow <= Self.limit, "overshoot 0 on both")
        #expect(Double(cluster.total) >= 0.9 * Double(single.total), "usable: \(cluster.total) against \(single.total) allowed")
        #expect(Double(cluster.total) >= 0.6 * Double(cluster.offered), "at least 90% of the limits (offered 150%)")
        #expect(
            Double(cluster.commands) <= 1.25 * Double(single.commands) + 30,
            "commands: \(cluster.commands) on the cluster, \(single.commands) on one server"
        )
    }

    /// The primary holding the fleet's membership is killed: decisions on held allowances go on without it, its
    /// replica takes over, and the instances are back in shared mode, reading membership, without a restart.
    @Test func decisionsGoOnThroughAFailoverAndSharedModeReturns() async throws {
        try await withFleet(onCluster: true, clusterReplicas: 1) { fleet in
            let profile = ProviderProfile.generic([.rollingWindow(limit: 4_000, window: .seconds(10))])
            let configuration = FleetCoordinationTests.configuration(["api": profile], fleetSize: 2)
            let a = try await fleet.addInstance(configuration, commandTimeout: .seconds(2))
            let b = try await fleet.addInstance(configuration, commandTimeout: .seconds(2))
            try await fleet.advance(by: .seconds(12), step: .seconds(1), instances: [a, b])
            let cluster = try #require(fleet.cluster)
            let topology = try #require(a.client.clusterTopology)
            let membership = try #require(topology.primary(forSlot: RedisHashSlot.of("fleet")))
            let replica = try #require(topology.shards.first { $0.primary == membership }?.replicas.first)
            let victim = try #require(cluster.nodes.first { $0.port == membership.port })
            let keys = try (0..<40).map { try GuardKey(integration: "api", tenant: "tenant-\($0)") }
            victim.kill()
            // Held allowances need no Redis: every one of these is decided, and allowed, while the primary is down.
            var allowed = 0
            for key in keys {
                for instance in [a, b] {
                    let permit = try await withDeadline(.seconds(5), "a decision on a held allowance") {
                        try await instance.floodgate.acquire(key)
                    }
                    instance.floodgate.record(permit, .success)
                    allowed += 1
                }
            }
            #expect(allowed == 80)
            // The replica is promoted; heartbeats reach it and the view follows the clock again.
            try await eventually("the replica serves the fleet's membership", within: .seconds(30)) {
                a.client.clusterTopology?.primary(forSlot: RedisHashSlot.of("fleet")) == replica
            }
            try await eventually("both instances read membership again, in shared mode", within: .seconds(30)) {
                fleet.clock.advance(by: .seconds(1))
                let now = fleet.clock.now.nanosecondsSince1970
                try await Task.sleep(for: .milliseconds(50))
                return [a, b].allSatisfy { instance in
                    (instance.floodgate.status.lastMembershipRead?.nanosecondsSince1970 ?? 0) >= now - 1_000_000_000
                        && instance.floodgate.mode == .shared
                }
            }
            for key in keys.prefix(10) { a.floodgate.record(try await a.floodgate.acquire(key), .success) }
        }
    }
}
