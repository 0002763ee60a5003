import Floodgate

/// The figures of one design's replay (names as `floodgate simulate --format json` prints them).
public struct DesignReport: Sendable, Codable, Hashable {
    public var name: String
    public var calls: Int
    /// All commands, from Redis's `INFO commandstats` (commands run inside scripts included).
    public var commands: Int
    /// By component, from the instances' own accounting (scripts count once: their `EVALSHA`).
    public var commandsByComponent: [String: Int]
    public var gets: Int
    public var commandsPerCall: Double
    /// Without the response cache's own reads and writes.
    public var coordinationCommandsPerCall: Double
    public var commandsPerDay: Int
    public var overshoot: Int
    /// Calls refused while their key was under its limit and its integration healthy.
    public var falseRejections: Int
    /// From the outage's start until every instance refuses `hubspot` calls (nil: some instance never did).
    public var breakerPropagationSeconds: Double?
    /// `hubspot` calls sent from the first failure of the outage until its end.
    public var callsDuringOutageAfterFirstFailure: Int
    /// From the 429 until every instance holds that tenant back (nil: some instance never did).
    public var throttlePropagationSeconds: Double?
    /// Calls sent to that tenant's `slack` during its `Retry-After`.
    public var callsDuringRetryAfter: Int
    public var cacheHitRatio: Double
    public var wallSeconds: Double
    /// Redis commands in each simulated minute (from INFO commandstats), for the plot.
    public var commandsPerMinute: [Int]

    init(
        name: String,
        workload: Workload,
        log: Simulation.Log,
        commandStats: [String: Int],
        byComponent: [String: Int],
        commandsPerMinute: [Int],
        wallSeconds: Double
    ) {
        self.commandsPerMinute = commandsPerMinute
        self.name = name
        calls = log.outcomes.count
        commands = commandStats.values.reduce(0, +)
        commandsByComponent = byComponent
        gets = commandStats["get"] ?? 0
        commandsPerCall = calls == 0 ? 0 : Double(commands) / Double(calls)
        // Commands run inside scripts appear only in INFO: coordination is everything but the cache's own commands.
        let cache = byComponent["cache"] ?? 0
        coordinationCommandsPerCall = calls == 0 ? 0 : Double(max(0, commands - cache)) / Double(calls)
        commandsPerDay = Int(Double(commands) * 24 * 60 / Double(workload.minutes))
        var allowed: [String: [Int64]] = [:]
        var served = 0
        for (call, outcome) in log.outcomes {
            switch outcome {
            case .upstream:
                allowed["\(call.integration):\(call.tenant)", default: []].append(call.time)
            case .servedFromCache:
                served += 1
            case .refused:
                break
            }
        }
        let counter = OvershootCounter()
        var overshoot = 0
        for (key, times) in allowed {
            let integration = Workload.integrations[Int(key.split(separator: ":")[0])!]
            switch Workload.policy(for: integration) {
            case .fixedWindow(let limit, let window):
                overshoot += counter.fixed(times, limit: limit, window: window.components.seconds * 1_000_000_000)
            case .rollingWindow(let limit, let window):
                overshoot += counter.rolling(times, limit: limit, window: window.components.seconds * 1_000_000_000)
            default:
                break
            }
        }
        self.overshoot = overshoot
        let faults = FaultFigures(workload: workload, log: log, allowed: allowed)
        falseRejections = faults.falseRejections
        breakerPropagationSeconds = faults.breakerPropagationSeconds
        callsDuringOutageAfterFirstFailure = faults.callsDuringOutageAfterFirstFailure
        throttlePropagationSeconds = faults.throttlePropagationSeconds
        callsDuringRetryAfter = faults.callsDuringRetryAfter
        cacheHitRatio = calls == 0 ? 0 : Double(served) / Double(calls)
        self.wallSeconds = wallSeconds
    }
}

/// Every design's figures for one workload.
public struct SimulationReport: Sendable, Codable, Hashable {
    public var workload: WorkloadParameters
    public var designs: [DesignReport]

    init(workload: Workload, designs: [DesignReport]) {
        self.workload = WorkloadParameters(workload)
        self.designs = designs
    }

    /// A terminal table.
    public var table: String {
        var lines = [
            "design      calls  commands    GETs  cmd/call  coord/call   per day  overshoot  false rej  breaker s  429 s  cache hit  wall s"
        ]
        for design in designs {
            var cells: [String] = []
            cells.append(design.name.padding(toLength: 10, withPad: " ", startingAt: 0))
            cells.append(String(design.calls).leftPadded(7))
            cells.append(String(design.commands).leftPadded(9))
            cells.append(String(design.gets).leftPadded(7))
            cells.append(format2(design.commandsPerCall).leftPadded(9))
            cells.append(format4(design.coordinationCommandsPerCall).leftPadded(11))
            cells.append(String(design.commandsPerDay).leftPadded(9))
            cells.append(String(design.overshoot).leftPadded(10))
            cells.append(String(design.falseRejections).leftPadded(10))
            cells.append((design.breakerPropagationSeconds.map(format2) ?? "never").leftPadded(10))
            cells.append((design.throttlePropagationSeconds.map(format2) ?? "never").leftPadded(6))
            cells.append((format2(design.cacheHitRatio * 100) + "%").leftPadded(10))
            cells.append(format2(design.wallSeconds).leftPadded(7))
            lines.append(cells.joined(separator: " "))
        }
        return lines.joined(separator: "\n")
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

    init(_ workload: Workload) {
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
