import Floodgate
import FloodgateTesting
import FloodgateLocalRedis
import FloodgateRedis
import FloodgateSimulation
import FloodgateTestSupport
import Logging
import Testing

/// A clock that reads a shared manual clock plus a fixed offset: one instance's skewed view of virtual time.
struct SkewedClock: Clock, Sendable {
    let base: ManualClock
    let offset: Duration

    var now: WallInstant { base.now.advanced(by: offset) }
    var minimumResolution: Duration { .nanoseconds(1) }

    func sleep(until deadline: WallInstant, tolerance: Duration? = nil) async throws {
        try await base.sleep(until: deadline.advanced(by: .zero - offset))
    }
}

/// Several Floodgate instances in one process, each with its own Redis client, sharing one private redis-server and
/// one manual clock (each with its own skew).
final class FleetHarness: @unchecked Sendable {
    final class Instance: @unchecked Sendable {
        let client: RedisClient
        let floodgate: Floodgate
        /// The command budget and response cache beside the guards, when the instance was set up as the README does.
        let budget: CommandBudget?
        let cache: ResponseCache?
        let clientTask: Task<Void, any Error>
        let floodgateTask: Task<Void, any Error>
        let companionTasks: [Task<Void, any Error>]

        init(client: RedisClient, floodgate: Floodgate, budget: CommandBudget? = nil, cache: ResponseCache? = nil) {
            self.client = client
            self.floodgate = floodgate
            self.budget = budget
            self.cache = cache
            clientTask = Task { try await client.run() }
            floodgateTask = Task { try await floodgate.run() }
            companionTasks = [budget.map { budget in Task { try await budget.run() } }, cache.map { cache in Task { try await cache.run() } }]
                .compactMap { $0 }
        }

        /// Tries `attempts` calls on `key`, recording each allowed one as a success; how many were allowed.
        func spend(_ attempts: Int, on key: GuardKey) async -> Int {
            var allowed = 0
            for _ in 0..<attempts {
                if let permit = try? await floodgate.acquire(key) {
                    floodgate.record(permit, .success)
                    allowed += 1
                }
            }
            return allowed
        }

        /// Stops as a crash would: the connection goes first, so nothing is said to the fleet.
        func crash() async {
            clientTask.cancel()
            _ = try? await clientTask.value
            floodgateTask.cancel()
            _ = try? await floodgateTask.value
        }

        /// Stops politely: the Floodgate leaves the fleet first.
        func leave() async {
            for task in companionTasks {
                task.cancel()
                _ = try? await task.value
            }
            floodgateTask.cancel()
            _ = try? await floodgateTask.value
            clientTask.cancel()
            _ = try? await clientTask.value
        }
    }

    /// The server the instances connect to: the one server, or the first node of ``cluster``.
    let server: LocalRedisServer
    /// The cluster behind ``server`` when the fleet runs on one.
    let cluster: LocalRedisCluster?
    let clock: ManualClock
    /// A client the test uses to look at the server (INFO, CONFIG RESETSTAT) without touching the fleet's counts.
    let observer: RedisClient
    private let observerTask: Task<Void, any Error>
    private(set) var instances: [Instance] = []
    private var nextID = 0

    init(server: LocalRedisServer, cluster: LocalRedisCluster? = nil, clock: ManualClock) throws {
        self.server = server
        self.cluster = cluster
        self.clock = clock
        observer = try RedisClient(configuration: Self.clientConfiguration(server))
        let observer = self.observer
        observerTask = Task { try await observer.run() }
    }

    static func clientConfiguration(_ server: LocalRedisServer) -> RedisClientConfiguration {
        var configuration = RedisClientConfiguration(host: server.host, port: server.port)
        configuration.commandTimeout = .seconds(10)
        configuration.connectTimeout = .seconds(10)
        return configuration
    }

    /// Starts an instance and waits until it has read the fleet's membership once.
    @discardableResult
    func addInstance(
        _ configuration: FloodgateConfiguration,
        offset: Duration = .zero,
        waitForMembership: Bool = true,
        through proxy: FaultProxy? = nil,
        commandTimeout: Duration = .seconds(10),
        budget: CommandBudget.Configuration? = nil
    ) async throws -> Instance {
        var configuration = configuration
        configuration.instanceID = "i\(nextID)"
        nextID += 1
        var clientConfiguration = Self.clientConfiguration(server)
        if let proxy { clientConfiguration.port = proxy.port }
        clientConfiguration.commandTimeout = commandTimeout
        let client = try RedisClient(configuration: clientConfiguration)
        let skewed = SkewedClock(base: clock, offset: offset)
        // With a budget: the budget, a response cache and the guards on one client, as the README sets them up.
        let commandBudget = try budget.map { try CommandBudget(configuration: $0, client: client, clock: skewed) }
        let cache = try commandBudget.map { try ResponseCache(store: .redis(client), budget: $0, clock: skewed) }
        let floodgate = try Floodgate(
            configuration: configuration,
            store: .redis(client),
            clock: skewed,
            budget: commandBudget,
            logger: Logger(label: "test.\(configuration.instanceID)")
        )
        let instance = Instance(client: client, floodgate: floodgate, budget: commandBudget, cache: cache)
        instances.append(instance)
        if waitForMembership {
            try await eventually("instance \(configuration.instanceID) joins") { floodgate.status.lastMembershipRead != nil }
        }
        if let cache {
            try await eventually("the budget's first report") { client.accounting.snapshot().count(component: .budget) > 0 }
            try await eventually("the cache's invalidation mode and directory") {
                cache.invalidationMode != .pending && cache.directoryStatus.completeness == "complete"
            }
        }
        return instance
    }

    /// Advances virtual time by `step` at a time, each time waiting until every live instance has read membership at
    /// or after the new time (so shares follow the clock).
    func advance(by total: Duration, step: Duration, instances live: [Instance]) async throws {
        var moved = Duration.zero
        while moved < total {
            clock.advance(by: step)
            moved += step
            let now = clock.now
            for instance in live {
                try await eventually("heartbeat at \(now)") {
                    guard let read = instance.floodgate.status.lastMembershipRead else { return false }
                    return read.nanosecondsSince1970 >= now.nanosecondsSince1970 - 1_000_000_000
                }
            }
        }
    }

    /// Waits until every instance has sent the heartbeat due at the clock's current instant, so no background
    /// command is still in flight (for tests that count commands; heartbeats every second, the clock on the second).
    func settle(instances live: [Instance]) async throws {
        let now = clock.now
        for instance in live {
            try await eventually("the heartbeat at \(now) is done") { instance.floodgate.status.lastMembershipRead == now }
        }
    }

    func shutdown() async {
        for instance in instances { await instance.leave() }
        observerTask.cancel()
        _ = try? await observerTask.value
        server.stop()
        cluster?.stop()
    }
}

/// Runs `body` with a fleet harness on a private redis-server; stops everything afterwards.
func withFleet(
    start: WallInstant = WallInstant(nanosecondsSince1970: 1_767_225_600 * 1_000_000_000),
    redis options: LocalRedisServer.Options = .init(),
    onCluster: Bool = false,
    clusterReplicas: Int = 0,
    _ body: (FleetHarness) async throws -> Void
) async throws {
    let cluster = onCluster ? try await LocalRedisCluster.start(replicas: clusterReplicas) : nil
    let server: LocalRedisServer
    if let cluster { server = cluster.nodes[0] } else { server = try await LocalRedisServer.start(options) }
    let harness = try FleetHarness(server: server, cluster: cluster, clock: ManualClock(start: start))
    do {
        try await body(harness)
    } catch {
        await harness.shutdown()
        throw error
    }
    await harness.shutdown()
}
