import Floodgate
import FloodgateRedis

/// One app instance of a replayed design: it makes calls, and can say — without sending anything — whether it
/// refuses an integration or holds a tenant connection back at a moment (for the propagation figures). It owns its
/// Redis client and background work from ``start()`` until ``stop(gracefully:)``, so a replay can deploy, crash and
/// replace instances.
protocol ReplayedInstance: AnyObject {
    /// The instance's own client (its accounting is the instance's commands).
    var client: RedisClient { get }

    /// The components whose commands a call sends itself, in the call: attributed to the call's key.
    var ownCallComponents: Set<RedisComponent> { get }

    /// Starts the instance's background work, and its client unless `clientTask` already runs it.
    func start(clientTask: Task<Void, any Error>?)

    /// Stops: gracefully (leaving the fleet, then closing the connection) or as a crash (the connection first, so
    /// nothing is said to the fleet).
    func stop(gracefully: Bool) async

    /// One call of the schedule at `now` (nanoseconds since 1970 on the replay's clock).
    func call(
        _ call: SimulatedCall,
        at now: Int64,
        workload: Workload,
        upstream: @escaping @Sendable (SimulatedCall) -> CallSchedule.Answer
    ) async throws -> SimulatedOutcome

    /// Whether a call to `integration` at `now` would be refused by its breaker.
    func refusesBreaker(of integration: String, at now: Int64) -> Bool

    /// Whether a call to `integration` for `tenant` at `now` would be held back by a provider's back-off.
    func holdsBack(_ integration: String, tenant: String, at now: Int64) -> Bool

    /// The response cache's counts, for a design that has one.
    var cacheStatistics: ResponseCache.Statistics? { get }

    /// Whether the fleet hears of a breaker opening or a throttle by events (pub/sub) rather than on a clock (a
    /// baseline's cached copy): the replay then gives the events time to arrive, in wall-clock time.
    var spreadsFaultsByEvents: Bool { get }

    /// Whether Redis work the instance started in the background (breaker reports, lease requests, side effects of
    /// outcomes) is still on its way; the replay waits for it before the next call.
    var hasWorkInFlight: Bool { get }

    /// Events its response cache has heard on the invalidation stream; nil for a design without one.
    var cacheEventsHeard: Int? { get }

    /// Messages it put on the fleet's channel and heard there; nil for a design without one.
    var fleetMessages: (published: Int, heard: Int)? { get }

    /// Whether a started instance is ready to take calls as a running one would: it has joined the fleet and its
    /// response cache's stream and directory are up (the replay waits for it, so a start never races the calls).
    var isReady: Bool { get }
}

/// Running tasks of one instance, stopped in a chosen order.
final class InstanceTasks: @unchecked Sendable {
    // Written by start() and stop() only, which the replay calls one after the other.
    private var tasks: [(name: String, task: Task<Void, any Error>)] = []

    func run(_ name: String, _ body: @escaping @Sendable () async throws -> Void) {
        tasks.append((name, Task { try await body() }))
    }

    /// Takes over a task already running (a client started before the replay reset the server's statistics).
    func adopt(_ name: String, _ task: Task<Void, any Error>) {
        tasks.append((name, task))
    }

    /// Runs the client, or adopts the task already running it.
    func runClient(_ client: RedisClient, adopting task: Task<Void, any Error>?) {
        if let task { adopt("client", task) } else { run("client") { try await client.run() } }
    }

    /// Cancels and awaits the tasks named in `order` first, then the rest.
    func stop(order: [String]) async {
        for name in order + tasks.map(\.name) where tasks.contains(where: { $0.name == name }) {
            for (_, task) in tasks.filter({ $0.name == name }) {
                task.cancel()
                _ = try? await task.value
            }
            tasks.removeAll { $0.name == name }
        }
    }
}
