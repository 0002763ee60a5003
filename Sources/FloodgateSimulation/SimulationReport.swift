import Floodgate

/// The figures of one design's replay (names as `floodgate simulate --format json` prints them).
public struct DesignReport: Sendable, Codable, Hashable {
    public var name: String
    public var calls: Int
    /// What the calls came to: served from the cache, refused (and why), sent upstream (and the answer).
    public var outcomes: CallOutcomeCounts
    /// All commands, from Redis's `INFO commandstats` (commands run inside scripts included).
    public var commands: Int
    /// By component, from the instances' own accounting (scripts count once: their `EVALSHA`).
    public var commandsByComponent: [String: Int]
    public var gets: Int
    /// Every command by name, from `INFO commandstats`.
    public var commandsByName: [String: Int]
    public var commandsPerCall: Double
    /// Without the response cache's own reads and writes.
    public var coordinationCommandsPerCall: Double
    /// Coordination commands per call after the first ``DesignReport/warmUpMinutes`` simulated minutes (instances
    /// joining, caches empty); nil for shorter runs.
    public var steadyCoordinationCommandsPerCall: Double?
    public var commandsPerDay: Int
    public var overshoot: Int
    /// Calls refused while their key was under its limit and its integration healthy.
    public var falseRejections: Int
    /// From the outage's start until the first instance refuses `hubspot` calls (nil: none did).
    public var breakerDetectionSeconds: Double?
    /// From the first instance refusing `hubspot` calls until every instance does (nil: some instance never did).
    public var breakerPropagationSeconds: Double?
    /// `hubspot` calls sent from the first failure of the outage until its end.
    public var callsDuringOutageAfterFirstFailure: Int
    /// From the 429 until every instance holds that tenant back (nil: some instance never did).
    public var throttlePropagationSeconds: Double?
    /// Calls sent to that tenant's `slack` during its `Retry-After`.
    public var callsDuringRetryAfter: Int
    public var cacheHitRatio: Double
    /// The response cache's `GET`s, and the share of them that found a value it could serve (nil without a cache).
    public var cacheGets: Int?
    public var cacheGetsFindingValue: Double?
    public var wallSeconds: Double
    /// Redis commands in each simulated minute (from INFO commandstats), for the plot.
    public var commandsPerMinute: [Int]
    /// Coordination commands per call that do not depend on keys: membership heartbeats and the command budget's
    /// shared counter (for the baselines, `budget` is their per-call quota check), from the instances' accounting.
    public var fixedCoordinationCommandsPerCall: Double
    /// Coordination commands per call spent on keys: grants, leases, breaker evidence and events, back-offs.
    public var perKeyCoordinationCommandsPerCall: Double
    /// Usable capacity, time to full capacity, false refusals, overloaded keys' cost (``UsageFigures``).
    public var usage: UsageFigures

    init(
        name: String,
        workload: Workload,
        log: Simulation.Log,
        commandStats: [String: Int],
        byComponent: [String: Int],
        commandsPerMinute: [Int],
        cacheCommandsPerMinute: [Int],
        cacheReads: (hits: Int, misses: Int)?,
        wallSeconds: Double
    ) {
        self.commandsPerMinute = commandsPerMinute
        self.name = name
        calls = log.outcomes.count
        outcomes = CallOutcomeCounts(log.outcomes.lazy.map(\.outcome))
        commands = commandStats.values.reduce(0, +)
        commandsByComponent = byComponent
        commandsByName = commandStats
        gets = commandStats["get"] ?? 0
        commandsPerCall = calls == 0 ? 0 : Double(commands) / Double(calls)
        // Commands run inside scripts appear only in INFO: coordination is everything but the cache's own commands.
        let cache = byComponent["cache"] ?? 0
        coordinationCommandsPerCall = calls == 0 ? 0 : Double(max(0, commands - cache)) / Double(calls)
        if workload.minutes > Self.warmUpMinutes {
            let steadyCalls = log.outcomes.count { $0.call.time >= Int64(Self.warmUpMinutes) * 60_000_000_000 }
            let steadyCommands = commandsPerMinute.dropFirst(Self.warmUpMinutes).reduce(0, +)
                - cacheCommandsPerMinute.dropFirst(Self.warmUpMinutes).reduce(0, +)
            steadyCoordinationCommandsPerCall = steadyCalls == 0 ? 0 : Double(max(0, steadyCommands)) / Double(steadyCalls)
        }
        commandsPerDay = Int(Double(commands) * 24 * 60 / Double(workload.minutes))
        let callCount = log.outcomes.count
        func perCall(_ components: [String]) -> Double {
            callCount == 0 ? 0 : Double(components.reduce(0) { $0 + byComponent[$1, default: 0] }) / Double(callCount)
        }
        fixedCoordinationCommandsPerCall = perCall(["membership", "budget"])
        perKeyCoordinationCommandsPerCall = perCall(["rateLimit", "breaker", "backoff"])
        var allowed: [SimulatedKey: [Int64]] = [:]
        for (call, outcome) in log.outcomes {
            if case .upstream = outcome { allowed[call.key, default: []].append(call.time) }
        }
        let counter = OvershootCounter()
        var overshoot = 0
        for (key, times) in allowed {
            for policy in workload.policies(integration: key.integration, operation: key.operation) {
                overshoot += counter.overshoot(times, policy: policy)
            }
        }
        self.overshoot = overshoot
        usage = UsageFigures(
            workload: workload,
            records: log.outcomes.indices.map { UsageFigures.Record(call: log.outcomes[$0].call, outcome: log.outcomes[$0].outcome, ownCommands: log.ownCommands[$0]) }
        )
        let faults = FaultFigures(workload: workload, log: log, allowed: allowed)
        falseRejections = faults.falseRejections
        breakerDetectionSeconds = faults.breakerDetectionSeconds
        breakerPropagationSeconds = faults.breakerPropagationSeconds
        callsDuringOutageAfterFirstFailure = faults.callsDuringOutageAfterFirstFailure
        throttlePropagationSeconds = faults.throttlePropagationSeconds
        callsDuringRetryAfter = faults.callsDuringRetryAfter
        cacheHitRatio = calls == 0 ? 0 : Double(outcomes.servedFromCache) / Double(calls)
        if let cacheReads {
            cacheGets = cacheReads.hits + cacheReads.misses
            cacheGetsFindingValue = cacheGets == 0 ? nil : Double(cacheReads.hits) / Double(cacheReads.hits + cacheReads.misses)
        }
        self.wallSeconds = wallSeconds
    }
}

extension DesignReport {
    /// The start-up left out of ``steadyCoordinationCommandsPerCall``.
    public static let warmUpMinutes = 5
}

/// Every design's figures for one workload.
public struct SimulationReport: Sendable, Codable, Hashable {
    public var workload: WorkloadParameters
    /// The kind of private redis-server replayed against (nil: a server given by URL).
    public var server: RedisServerKind?
    public var designs: [DesignReport]

    init(workload: Workload, server: RedisServerKind?, designs: [DesignReport]) {
        self.workload = WorkloadParameters(workload)
        self.server = server
        self.designs = designs
    }

    /// A terminal table (short headings, columns as wide as their widest cell).
    public var table: String {
        let columns = Self.columns
        let rows = [columns.map(\.short)] + designs.map { design in columns.map { $0.value(design) } }
        let widths = columns.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.indices.map { column in
                column == 0 ? row[column].padding(toLength: widths[0], withPad: " ", startingAt: 0) : row[column].leftPadded(widths[column])
            }
            .joined(separator: "  ")
        }
        .joined(separator: "\n")
    }
}

/// The workload's parameters as reported.
public struct WorkloadParameters: Sendable, Codable, Hashable {
    public var instances: Int
    public var tenants: Int
    public var rate: Double
    public var zipf: Double
    public var mix: [Double]
    public var objects: Int
    public var cacheTTLSeconds: Int64
    public var failureRate: Double
    public var minutes: Int
    public var seed: UInt64
    public var outage: Bool
    public var throttle: Bool
    public var routing: Workload.Routing
    public var limits: Workload.LimitSource
    public var limitScale: Double
    public var hotTenants: Int
    public var hotFactor: Double
    public var hotIntegration: String
    public var deployAtSeconds: Double?
    public var deployPauseSeconds: Double
    public var crashAtSeconds: Double?
    public var crashCount: Int
    public var partitionAtSeconds: Double?
    public var partitionForSeconds: Double
    public var partitioned: Int

    init(_ workload: Workload) {
        routing = workload.routing
        limits = workload.limits
        limitScale = workload.limitScale
        hotTenants = workload.hotTenants
        hotFactor = workload.hotFactor
        hotIntegration = Workload.integrations[workload.hotIntegration]
        deployAtSeconds = workload.deployAt?.seconds
        deployPauseSeconds = workload.deployPause.seconds
        crashAtSeconds = workload.crashAt?.seconds
        crashCount = workload.crashCount
        partitionAtSeconds = workload.partitionAt?.seconds
        partitionForSeconds = workload.partitionFor.seconds
        partitioned = workload.partitioned
        instances = workload.instances
        tenants = workload.tenants
        rate = workload.rate
        zipf = workload.zipf
        mix = workload.mix
        objects = workload.objects
        cacheTTLSeconds = workload.cacheTTL.components.seconds
        failureRate = workload.failureRate
        minutes = workload.minutes
        seed = workload.seed
        outage = workload.outage
        throttle = workload.throttle
    }
}

func format2(_ value: Double) -> String { String((value * 100).rounded() / 100) }
func format4(_ value: Double) -> String { String((value * 10_000).rounded() / 10_000) }

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
