import Floodgate
import FloodgateLocalRedis
import FloodgateRedis
import Synchronization

/// Replays a workload for each design against a real Redis, on virtual time, and reports what each cost and got.
public enum Simulation {
    /// The designs, in the order they are reported.
    public static let designNames = ["naive", "ttl", "floodgate"]

    /// Runs `designs` on a private redis-server (or `redisURL`), one after the other, each on a flushed database with
    /// reset statistics.
    public static func run(
        _ workload: Workload,
        designs: [String] = designNames,
        redisURL: String? = nil,
        progress: (@Sendable (String, Int, Int) -> Void)? = nil
    ) async throws -> SimulationReport {
        for name in designs where !designNames.contains(name) {
            throw FloodgateError(.invalidConfiguration, "unknown design \(name): use \(designNames.joined(separator: ","))")
        }
        let schedule = try CallSchedule(workload)
        let server = redisURL == nil ? try await LocalRedisServer.start() : nil
        defer { server?.stop() }
        var configuration = try RedisClientConfiguration(url: redisURL ?? server!.url)
        configuration.commandTimeout = .seconds(10)
        var reports: [DesignReport] = []
        for name in designs {
            reports.append(try await replay(name, schedule: schedule, configuration: configuration, progress: progress))
        }
        return SimulationReport(workload: workload, designs: reports)
    }

    /// What happened to the calls of one replay, for the figures.
    struct Log {
        var outcomes: [(call: SimulatedCall, outcome: SimulatedOutcome)] = []
        var faults: FaultWatch
    }

    static func replay(
        _ name: String,
        schedule: CallSchedule,
        configuration: RedisClientConfiguration,
        progress: (@Sendable (String, Int, Int) -> Void)?
    ) async throws -> DesignReport {
        let workload = schedule.workload
        let wallClock = ContinuousClock()
        let started = wallClock.now
        let clock = ManualClock()
        let origin = clock.now.nanosecondsSince1970
        let observer = try RedisClient(configuration: configuration)
        let clients = try (0..<workload.instances).map { _ in try RedisClient(configuration: configuration) }
        let throttleSent = Mutex(false)
        let upstream: @Sendable (SimulatedCall) -> CallSchedule.Answer = { call in
            throttleSent.withLock { sent in
                let answer = schedule.answer(to: call, throttleSent: sent)
                if case .throttled = answer { sent = true }
                return answer
            }
        }
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await observer.run() }
            for client in clients { group.addTask { try await client.run() } }
            defer { group.cancelAll() }
            _ = try await observer.send(RedisCommand("FLUSHALL"))
            try await observer.configResetStat()
            let instances: [any ReplayedInstance]
            switch name {
            case "naive", "ttl":
                let breakerKeys = IncidentInstance.BreakerKeys()
                instances = clients.map { IncidentInstance(kind: name == "naive" ? .naive : .ttl, redis: $0, breakerKeys: breakerKeys) }
            default:
                let guarded = try clients.indices.map { try FloodgateInstance(index: $0, client: clients[$0], workload: workload, clock: clock) }
                for instance in guarded {
                    group.addTask { try await instance.floodgate.run() }
                    group.addTask { try await instance.cache.run() }
                    group.addTask { try await instance.budget.run() }
                }
                instances = guarded
            }
            var log = Log(faults: FaultWatch(workload: workload))
            log.outcomes.reserveCapacity(schedule.calls.count)
            var perMinute: [Int] = []
            var cachePerMinute: [Int] = []
            var counted = 0
            var cacheCounted = 0
            /// Commands so far, from INFO (its own INFO and CONFIG excluded), and the response cache's own commands
            /// (from the instances' accounting), recorded at each simulated minute.
            func sampleMinutes(until minute: Int) async throws {
                while perMinute.count < minute {
                    var stats = try await observer.commandStats()
                    stats["info"] = nil
                    stats["config|resetstat"] = nil
                    let total = stats.values.reduce(0, +)
                    perMinute.append(total - counted)
                    counted = total
                    let cache = clients.reduce(0) { $0 + $1.accounting.snapshot().byComponent[.cache, default: 0] }
                    cachePerMinute.append(cache - cacheCounted)
                    cacheCounted = cache
                }
            }
            for (index, call) in schedule.calls.enumerated() {
                try await sampleMinutes(until: Int(call.time / 60_000_000_000))
                clock.advance(to: WallInstant(nanosecondsSince1970: origin + call.time))
                await Task.yield()
                let now = origin + call.time
                log.faults.look(at: call.time, now: now, instances: instances)
                let outcome = try await instances[call.instance].call(call, at: now, workload: workload, upstream: upstream)
                log.outcomes.append((call, outcome))
                log.faults.noteOutcome(outcome, of: call)
                log.faults.look(at: call.time, now: now, instances: instances)
                if index % 500 == 0 { progress?(name, Int(call.time / 60_000_000_000), index) }
            }
            try await sampleMinutes(until: workload.minutes)
            var stats = try await observer.commandStats()
            stats["info"] = nil
            stats["config|resetstat"] = nil
            var byComponent: [String: Int] = [:]
            for client in clients {
                for (component, count) in client.accounting.snapshot().byComponent where component != .connection {
                    byComponent[component.name, default: 0] += count
                }
            }
            let wall = started.duration(to: wallClock.now)
            return DesignReport(
                name: name,
                workload: workload,
                log: log,
                commandStats: stats,
                byComponent: byComponent,
                commandsPerMinute: perMinute,
                cacheCommandsPerMinute: cachePerMinute,
                wallSeconds: Double(wall.components.seconds) + Double(wall.components.attoseconds) / 1e18
            )
        }
    }
}
