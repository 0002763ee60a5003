import Floodgate
import FloodgateTesting
import FloodgateRedis
import Synchronization

/// Floodgate as shipped, on one instance: the response cache in front, the guards around the upstream call, the
/// command budget (an allowance set high enough never to bind: the workload's usage quota, counted locally).
final class FloodgateInstance: ReplayedInstance, Sendable {
    let client: RedisClient
    let floodgate: Floodgate
    let cache: ResponseCache
    let budget: CommandBudget
    private let tasks = InstanceTasks()
    /// Grants and leases: what a decision sends itself (membership, breaker evidence and events run beside calls).
    let ownCallComponents: Set<RedisComponent> = [.rateLimit]

    struct UpstreamFailed: Error {}

    /// Instance `index` of the fleet; `generation` > 0 for the ones that replaced it in deploys or after crashes.
    init(index: Int, generation: Int = 0, client: RedisClient, workload: Workload, clock: ManualClock) throws {
        self.client = client
        var profiles: [String: ProviderProfile] = [:]
        for integration in Workload.integrations { profiles[integration] = workload.profile(for: integration) }
        budget = try CommandBudget(configuration: .init(perDay: 1_000_000_000), client: client, clock: clock)
        floodgate = try Floodgate(
            configuration: FloodgateConfiguration(
                instanceID: generation == 0 ? "sim-\(index)" : "sim-\(index)-\(generation)",
                profiles: profiles,
                fleetSize: workload.instances,
                instanceIndex: index,
                randomSeed: workload.seed &+ UInt64(index)
            ),
            store: .redis(client),
            clock: clock,
            budget: budget
        )
        // The app's longest TTL is the workload's: the directory's horizon.
        cache = try ResponseCache(configuration: .init(maximumTTL: workload.cacheTTL), store: .redis(client), budget: budget, clock: clock)
    }

    func start(clientTask: Task<Void, any Error>?) {
        let (floodgate, cache, budget) = (self.floodgate, self.cache, self.budget)
        tasks.runClient(client, adopting: clientTask)
        tasks.run("floodgate") { try await floodgate.run() }
        tasks.run("cache") { try await cache.run() }
        tasks.run("budget") { try await budget.run() }
    }

    func stop(gracefully: Bool) async {
        await tasks.stop(order: gracefully ? ["cache", "budget", "floodgate", "client"] : ["client", "floodgate", "cache", "budget"])
    }

    func call(
        _ call: SimulatedCall,
        at now: Int64,
        workload: Workload,
        upstream: @escaping @Sendable (SimulatedCall) -> CallSchedule.Answer
    ) async throws -> SimulatedOutcome {
        let integration = Workload.integrations[call.integration]
        let key = try GuardKey(
            integration: integration,
            tenant: "t\(call.tenant)",
            operation: call.operation.map { Workload.slackOperations[$0].name }
        )
        let answered = Mutex<CallSchedule.Answer?>(nil)
        let floodgate = self.floodgate
        let guarded = { @Sendable () async throws -> String? in
                let permit = try await floodgate.acquire(key)
                let answer = upstream(call)
                answered.withLock { $0 = answer }
                switch answer {
                case .success:
                    floodgate.record(permit, .success)
                    return "response"
                case .failure:
                    floodgate.record(permit, .failure)
                    throw UpstreamFailed()
                case .throttled(let retryAfter):
                    floodgate.record(permit, .throttled(retryAfter: retryAfter))
                    throw UpstreamFailed()
                }
        }
        do {
            if call.cacheable {
                _ = try await cache.value(for: "\(integration):t\(call.tenant):\(call.object)", as: String.self, ttl: workload.cacheTTL, loader: guarded)
            } else {
                _ = try await guarded()
            }
        } catch let error as FloodgateError {
            return .refused(error.code)
        } catch is UpstreamFailed {
        } catch is RedisClientError {
            return .failed  // the response cache could not reach Redis (a partition)
        }
        if let answer = answered.withLock({ $0 }) { return .upstream(answer) }
        return .servedFromCache(redis: false)
    }

    func refusesBreaker(of integration: String, at now: Int64) -> Bool {
        switch floodgate.breakerState(of: integration) {
        case .open(let until): until.nanosecondsSince1970 > now
        case .forcedOpen: true
        case .closed, .halfOpen, .forcedClosed: false
        }
    }

    var cacheStatistics: ResponseCache.Statistics? { cache.statistics }

    var spreadsFaultsByEvents: Bool { true }

    var hasWorkInFlight: Bool { floodgate.hasWorkInFlight }

    var cacheEventsHeard: Int? { cache.streamEventsHeard }

    var fleetMessages: (published: Int, heard: Int)? { floodgate.fleetMessages }

    var isReady: Bool {
        let directory = cache.directoryStatus.completeness
        return floodgate.status.mode == .shared && cache.invalidationMode != .pending && directory != "waitingForStream"
            && directory != "scanning"
    }

    func holdsBack(_ integration: String, tenant: String, at now: Int64) -> Bool {
        guard let key = try? GuardKey(integration: integration, tenant: tenant) else { return false }
        return floodgate.backoffUntil(key) != nil
    }
}
