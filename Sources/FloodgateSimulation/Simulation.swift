import Floodgate
import FloodgateTesting
import FloodgateLocalRedis
import FloodgateRedis
import Synchronization

/// Replays a workload for each design against a real Redis, on virtual time, and reports what each cost and got.
public enum Simulation {
    /// The designs, in the order they are reported.
    public static let designNames = ["naive", "ttl", "floodgate"]

    /// Every node of the cluster behind `configuration` (as the cluster names them), or none for a single server.
    static func clusterNodes(_ configuration: RedisClientConfiguration) async throws -> [RedisNodeAddress] {
        let probe = try RedisClient(configuration: configuration)
        return try await withThrowingTaskGroup(of: [RedisNodeAddress].self) { group in
            group.addTask {
                try await probe.run()
                return []
            }
            defer { group.cancelAll() }
            _ = try await probe.ping()
            return probe.clusterTopology?.nodes ?? []
        }
    }

    /// Runs `designs` on a private redis-server (or `redisURL`), one after the other, each on a flushed database with
    /// reset statistics.
    public static func run(
        _ workload: Workload,
        designs: [String] = designNames,
        redisURL: String? = nil,
        server kind: RedisServerKind = .plain,
        progress: (@Sendable (String, Int, Int) -> Void)? = nil
    ) async throws -> SimulationReport {
        for name in designs where !designNames.contains(name) {
            throw FloodgateError(.invalidConfiguration, "unknown design \(name): use \(designNames.joined(separator: ","))")
        }
        let schedule = try CallSchedule(workload)
        if redisURL != nil, kind != .plain {
            throw FloodgateError(.invalidConfiguration, "a server kind other than plain needs the private redis-server, not a Redis URL")
        }
        let server = redisURL == nil ? try await LocalRedisServer.start(.init(arguments: kind.serverArguments)) : nil
        defer { server?.stop() }
        var configuration = try RedisClientConfiguration(url: redisURL ?? server!.url)
        configuration.commandTimeout = .seconds(10)
        var reports: [DesignReport] = []
        for name in designs {
            reports.append(try await replay(name, schedule: schedule, configuration: configuration, progress: progress))
        }
        return SimulationReport(workload: workload, server: redisURL == nil ? kind : nil, designs: reports)
    }

    /// What happened to the calls of one replay, for the figures.
    struct Log {
        var outcomes: [(call: SimulatedCall, outcome: SimulatedOutcome)] = []
        /// Commands each call sent itself, in the order of ``outcomes``.
        var ownCommands: [Int] = []
        var faults: FaultWatch
    }

    /// A change to the fleet at a moment of the replay: an instance leaves or crashes and a new one takes its place
    /// (`replace`), or an instance's Redis is cut or restored.
    struct FleetChange: Comparable {
        enum Kind: Comparable {
            case leave
            case crash
            case replace
            case cut
            case restore
        }
        var time: Int64
        var slot: Int
        var kind: Kind

        static func < (lhs: FleetChange, rhs: FleetChange) -> Bool { (lhs.time, lhs.slot, lhs.kind) < (rhs.time, rhs.slot, rhs.kind) }

        /// The workload's deploy, crash and partition as changes, in order.
        static func schedule(_ workload: Workload) -> [FleetChange] {
            var changes: [FleetChange] = []
            let pause = workload.deployPause.nanoseconds
            if let deployAt = workload.deployAt?.nanoseconds {
                for slot in 0..<workload.instances {
                    let at = deployAt + Int64(slot) * pause
                    changes += [FleetChange(time: at, slot: slot, kind: .leave), FleetChange(time: at, slot: slot, kind: .replace)]
                }
            }
            if let crashAt = workload.crashAt?.nanoseconds {
                for slot in 0..<workload.crashCount {
                    changes += [FleetChange(time: crashAt, slot: slot, kind: .crash), FleetChange(time: crashAt + pause, slot: slot, kind: .replace)]
                }
            }
            if let partitionAt = workload.partitionAt?.nanoseconds {
                for slot in (workload.instances - workload.partitioned)..<workload.instances {
                    changes += [
                        FleetChange(time: partitionAt, slot: slot, kind: .cut),
                        FleetChange(time: partitionAt + workload.partitionFor.nanoseconds, slot: slot, kind: .restore),
                    ]
                }
            }
            return changes.filter { $0.time < workload.duration.nanoseconds }.sorted()
        }
    }

    /// Waits on the wall clock until `condition` holds or `limit` has passed: yielding at first (what it waits for is
    /// usually a step away), then checking every 100 µs.
    static func waitInRealTime(upTo limit: Duration, until condition: () -> Bool) async {
        let deadline = ContinuousClock.now + limit
        var checks = 0
        while !condition(), ContinuousClock.now < deadline {
            checks += 1
            if checks < 50 { await Task.yield() } else { try? await Task.sleep(for: .microseconds(100)) }
        }
    }

    /// Waits (on the wall clock, at most two seconds) until no instance has background Redis work on its way, every
    /// other instance's response cache has heard of the `writes` the caller's cache just made, and every instance has
    /// heard the messages put on the fleet's channel since `before` was taken (asks to cede, breaker events).
    static func settle(
        _ instances: [any ReplayedInstance],
        writes: Int,
        of caller: any ReplayedInstance,
        heardBefore before: [(cache: Int?, fleet: (published: Int, heard: Int)?)]
    ) async {
        func settled() -> Bool {
            var published = 0
            for (index, instance) in instances.enumerated() {
                if instance.hasWorkInFlight { return false }
                if let now = instance.fleetMessages, let then = before[index].fleet { published += now.published - then.published }
            }
            // An instance cut off from Redis hears nothing until it is back.
            for (index, instance) in instances.enumerated() where instance.client.isConnected {
                if instance !== caller, let then = before[index].cache, let heard = instance.cacheEventsHeard, heard < then + writes {
                    return false
                }
                if let now = instance.fleetMessages, let then = before[index].fleet, now.heard - then.heard < published {
                    return false
                }
            }
            return true
        }
        await waitInRealTime(upTo: .seconds(2), until: settled)
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
        let throttleSent = Mutex(false)
        let upstream: @Sendable (SimulatedCall) -> CallSchedule.Answer = { call in
            throttleSent.withLock { sent in
                let answer = schedule.answer(to: call, throttleSent: sent)
                if case .throttled = answer { sent = true }
                return answer
            }
        }
        let changes = FleetChange.schedule(workload)
        // The partitioned instances reach Redis through loopback proxies that can cut their connections: one for the
        // server or, on a cluster, one per node (the client maps each node the cluster names to its proxy).
        var proxies: [Int: [FaultProxy]] = [:]
        var nodeMaps: [Int: [RedisNodeAddress: RedisNodeAddress]] = [:]
        let cutSlots = Set(changes.filter { $0.kind == .cut }.map(\.slot))
        if !cutSlots.isEmpty {
            let nodes = try await Self.clusterNodes(configuration)
            for slot in cutSlots {
                if nodes.isEmpty {
                    proxies[slot] = [try await FaultProxy.start(to: configuration.host, port: configuration.port)]
                    continue
                }
                for node in nodes {
                    let proxy = try await FaultProxy.start(to: node.host, port: node.port)
                    proxies[slot, default: []].append(proxy)
                    nodeMaps[slot, default: [:]][node] = RedisNodeAddress(host: "127.0.0.1", port: proxy.port)
                }
            }
        }
        defer { for proxy in proxies.values.joined() { Task { await proxy.stop() } } }
        let breakerKeys = IncidentInstance.BreakerKeys()
        var generations = [Int](repeating: 0, count: workload.instances)
        func makeClient(_ slot: Int) throws -> RedisClient {
            var slotConfiguration = configuration
            if let map = nodeMaps[slot] {
                let seed = RedisNodeAddress(host: configuration.host, port: configuration.port)
                slotConfiguration = configuration.pointing(at: map[seed] ?? map.values.sorted()[0])
                slotConfiguration.nodeAddressMap = map
            } else if let proxy = proxies[slot]?.first {
                slotConfiguration = configuration.pointing(at: RedisNodeAddress(host: "127.0.0.1", port: proxy.port))
            }
            return try RedisClient(configuration: slotConfiguration)
        }
        func makeInstance(_ slot: Int, client running: (RedisClient, Task<Void, any Error>)? = nil) throws -> any ReplayedInstance {
            let client = try running?.0 ?? makeClient(slot)
            let instance: any ReplayedInstance
            switch name {
            case "naive", "ttl":
                instance = IncidentInstance(kind: name == "naive" ? .naive : .ttl, redis: client, breakerKeys: breakerKeys)
            default:
                instance = try FloodgateInstance(index: slot, generation: generations[slot], client: client, workload: workload, clock: clock)
            }
            generations[slot] += 1
            instance.start(clientTask: running?.1)
            return instance
        }
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await observer.run() }
            defer { group.cancelAll() }
            // The first fleet's connections are made before the server's statistics are reset, as a running fleet's
            // would be: the figures count what the workload costs, not the handshakes (a deploy's are counted).
            let clients = try (0..<workload.instances).map { slot -> (RedisClient, Task<Void, any Error>) in
                let client = try makeClient(slot)
                return (client, Task { try await client.run() })
            }
            await Self.waitInRealTime(upTo: .seconds(10)) { clients.allSatisfy { $0.0.isConnected } }
            try await observer.sendToEveryPrimary(RedisCommand("FLUSHALL"))
            try await observer.sendToEveryPrimary(RedisCommand("CONFIG RESETSTAT"))
            // One at a time, so that which members each first view holds does not depend on the machine's speed.
            var instances: [any ReplayedInstance] = []
            for slot in clients.indices {
                let instance = try makeInstance(slot, client: clients[slot])
                instances.append(instance)
                await Self.waitInRealTime(upTo: .seconds(10)) { instance.isReady }
            }
            var everyInstance = instances
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
                    var stats = try await observer.commandStatsOfEveryPrimary()
                    stats["info"] = nil
                    stats["config|resetstat"] = nil
                    let total = stats.values.reduce(0, +)
                    perMinute.append(total - counted)
                    counted = total
                    let cache = everyInstance.reduce(0) { $0 + $1.client.accounting.snapshot().byComponent[.cache, default: 0] }
                    cachePerMinute.append(cache - cacheCounted)
                    cacheCounted = cache
                }
            }
            var spreadWaitLeft = Duration.seconds(5)
            var nextChange = changes.startIndex
            /// Slots whose instance has left or crashed and is not replaced yet: their calls go to the next live one.
            var down: Set<Int> = []
            /// Moves the replay's clock to `time`; the timer loops that came due (heartbeats, breaker ticks, the
            /// budget's flush) finish their turn, and the Redis work it left, before the replay goes on: which of them
            /// runs first must not depend on the machine's speed.
            func advanceClock(to time: Int64) async {
                let sleepsBefore = clock.sleepsBegun
                let woken = clock.advance(to: WallInstant(nanosecondsSince1970: origin + time))
                await Task.yield()
                guard woken > 0 else { return }
                let live = instances.indices.filter { !down.contains($0) }.map { instances[$0] }
                await Self.waitInRealTime(upTo: .seconds(2)) {
                    clock.sleepsBegun >= sleepsBefore + woken && !live.contains { $0.hasWorkInFlight }
                }
            }
            /// Applies the fleet changes due by `time`, each at its own moment of the replay's clock.
            func applyChanges(until time: Int64) async throws {
                while nextChange < changes.endIndex, changes[nextChange].time <= time {
                    let change = changes[nextChange]
                    nextChange += 1
                    await advanceClock(to: change.time)
                    switch change.kind {
                    case .leave:
                        await instances[change.slot].stop(gracefully: true)
                        down.insert(change.slot)
                    case .crash:
                        await instances[change.slot].stop(gracefully: false)
                        down.insert(change.slot)
                    case .replace:
                        let started = try makeInstance(change.slot)
                        instances[change.slot] = started
                        everyInstance.append(started)
                        down.remove(change.slot)
                        await Self.waitInRealTime(upTo: .seconds(10)) { started.isReady }
                    case .cut:
                        for proxy in proxies[change.slot] ?? [] { proxy.set(.refuse) }
                        // On virtual time a cut is noticed now, not after the real-time milliseconds in which hundreds
                        // of calls replay.
                        let client = instances[change.slot].client
                        await Self.waitInRealTime(upTo: .seconds(2)) { !client.isConnected }
                    case .restore:
                        for proxy in proxies[change.slot] ?? [] { proxy.set(.pass) }
                        // The client reconnects after a real-time back-off (up to a second: a minute of replayed
                        // calls). Wait for it, so that the outage lasts what the scenario says, run after run.
                        let client = instances[change.slot].client
                        await Self.waitInRealTime(upTo: .seconds(5)) { client.isConnected }
                    }
                }
            }
            for (index, call) in schedule.calls.enumerated() {
                try await sampleMinutes(until: Int(call.time / 60_000_000_000))
                try await applyChanges(until: call.time)
                await advanceClock(to: call.time)
                let now = origin + call.time
                // A load balancer sends a call for a slot that is down to the next live instance.
                guard let slot = (0..<instances.count).lazy.map({ (call.instance + $0) % instances.count }).first(where: { !down.contains($0) })
                else {
                    log.outcomes.append((call, .unserved))
                    log.ownCommands.append(0)
                    continue
                }
                let instance = instances[slot]
                log.faults.look(at: call.time, now: now, instances: instances)
                let before = instance.client.accounting.snapshot()
                let live = instances.indices.filter { !down.contains($0) }.map { instances[$0] }
                let heard = live.map { (cache: $0.cacheEventsHeard, fleet: $0.fleetMessages) }
                let outcome: SimulatedOutcome
                do {
                    outcome = try await instance.call(call, at: now, workload: workload, upstream: upstream)
                } catch is RedisClientError where proxies[slot] != nil {
                    outcome = .failed  // a baseline's instance cut off from Redis fails its call
                }
                // What the call set off in the background finishes before the next call, however fast it ran.
                let spent = instance.client.accounting.snapshot().subtracting(before)
                let writes = ["set", "del"].reduce(0) { $0 + spent.counts[.init(component: .cache, command: $1), default: 0] }
                await Self.settle(live, writes: writes, of: instance, heardBefore: heard)
                let sent = instance.client.accounting.snapshot().subtracting(before).byComponent
                log.outcomes.append((call, outcome))
                log.ownCommands.append(instance.ownCallComponents.reduce(0) { $0 + sent[$1, default: 0] })
                log.faults.noteOutcome(outcome, of: call)
                log.faults.look(at: call.time, now: now, instances: instances)
                // On virtual time, the millisecond an event takes to reach the other instances would count as
                // hundreds of simulated milliseconds (calls replay faster than real time): once one instance holds
                // a fault, the others get wall-clock time to hear of it before the next call — up to a second at a
                // time and five in the whole replay, so an instance that cannot hear (cut off from Redis) does not
                // stall it.
                if instance.spreadsFaultsByEvents, spreadWaitLeft > .zero,
                    log.faults.isSpreading(at: call.time, instanceCount: instances.count)
                {
                    let started = ContinuousClock.now
                    let giveUpAt = started + min(.seconds(1), spreadWaitLeft)
                    while log.faults.isSpreading(at: call.time, instanceCount: instances.count), ContinuousClock.now < giveUpAt {
                        try await Task.sleep(for: .milliseconds(1))
                        log.faults.look(at: call.time, now: now, instances: instances)
                    }
                    spreadWaitLeft -= started.duration(to: ContinuousClock.now)
                }
                if index % 500 == 0 { progress?(name, Int(call.time / 60_000_000_000), index) }
            }
            try await sampleMinutes(until: workload.minutes)
            var stats = try await observer.commandStatsOfEveryPrimary()
            stats["info"] = nil
            stats["config|resetstat"] = nil
            var byComponent: [String: Int] = [:]
            for instance in everyInstance {
                for (component, count) in instance.client.accounting.snapshot().byComponent where component != .connection {
                    byComponent[component.name, default: 0] += count
                }
            }
            let cacheReads = everyInstance.compactMap(\.cacheStatistics).reduce(into: (hits: 0, misses: 0)) {
                $0.hits += $1.redisHits
                $0.misses += $1.redisMisses
            }
            for instance in instances { await instance.stop(gracefully: true) }
            let wall = started.duration(to: wallClock.now)
            return DesignReport(
                name: name,
                workload: workload,
                log: log,
                commandStats: stats,
                byComponent: byComponent,
                commandsPerMinute: perMinute,
                cacheCommandsPerMinute: cachePerMinute,
                cacheReads: everyInstance.contains { $0.cacheStatistics != nil } ? cacheReads : nil,
                wallSeconds: Double(wall.components.seconds) + Double(wall.components.attoseconds) / 1e18
            )
        }
    }
}
