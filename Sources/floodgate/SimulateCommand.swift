import ArgumentParser
import Floodgate

#if canImport(Glibc)
import Glibc
#endif
import FloodgateLocalRedis
import FloodgateSimulation

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `floodgate simulate`: replays the incident workload (or one of its scenarios, or all of them as a matrix) for the
/// naive design, the incident's fix and Floodgate, on virtual time against a real Redis, and prints what each cost
/// and what its users got.
struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Replay the incident workload for naive, ttl and floodgate and print the before/after table.",
        discussion: """
            Scenarios (--scenario NAME, or all for the matrix): \
            \(Scenario.all.map { "\($0.name): \($0.summary)" }.joined(separator: "; ")). \
            A scenario sets its options; options given as flags are applied after it.
            """
    )

    @Option(help: "A named scenario, or all (one matrix row per scenario and design): \(Scenario.all.map(\.name).joined(separator: ", ")).")
    var scenario: String?
    @Option(help: "App instances, 1 to 100. (default: 4)") var instances: Int?
    @Option(help: "Tenants (each connected to slack, hubspot and salesforce). (default: 100)") var tenants: Int?
    @Option(help: "Fleet-wide calls per second (Poisson). (default: 6.5)") var rate: Double?
    @Option(help: "Zipf exponent of tenant popularity. (default: 1.1)") var zipf: Double?
    @Option(help: "Integration mix slack,hubspot,salesforce. (default: 0.5,0.3,0.2)") var mix: String?
    @Option(help: "Cached objects per tenant connection. (default: 200)") var objects: Int?
    @Option(name: .customLong("cache-ttl"), help: "Response cache TTL in seconds. (default: 60)") var cacheTTL: Int?
    @Option(name: .customLong("failure-rate"), help: "Share of upstream calls failing at random. (default: 0.02)") var failureRate: Double?
    @Option(help: "Simulated minutes. (default: 60)") var minutes: Int?
    @Option(help: "Random seed: the same seed gives the same calls. (default: 1)") var seed: UInt64?
    @Option(help: "How calls reach instances: uniform, sticky (a tenant always on one instance) or skewed (Zipf). (default: uniform)")
    var routing: String?
    @Option(help: "Limits: workload (one per integration) or profiles (the built-in Slack, HubSpot, Salesforce profiles). (default: workload)")
    var limits: String?
    @Option(name: .customLong("limit-scale"), help: "Scale the profiles' limits of an hour or longer by this factor. (default: 1)")
    var limitScale: Double?
    @Option(name: .customLong("hot-tenants"), help: "Tenants offered --hot-factor times their limit on top of the workload. (default: 0)")
    var hotTenants: Int?
    @Option(name: .customLong("hot-factor"), help: "How many times their limit the hot tenants are offered. (default: 2)") var hotFactor: Double?
    @Option(name: .customLong("hot-integration"), help: "The integration the hot tenants overload: slack, hubspot or salesforce. (default: slack)")
    var hotIntegration: String?
    @Option(name: .customLong("deploy-at"), help: "Seconds into the run when a rolling restart of every instance starts.") var deployAt: Double?
    @Option(name: .customLong("deploy-pause"), help: "Seconds between two instances of a rolling restart (and before a crashed one is replaced). (default: 10)")
    var deployPause: Double?
    @Option(name: .customLong("crash-at"), help: "Seconds into the run when --crash-count instances die without leaving.") var crashAt: Double?
    @Option(name: .customLong("crash-count"), help: "How many instances crash at --crash-at. (default: 1)") var crashCount: Int?
    @Option(name: .customLong("partition-at"), help: "Seconds into the run when --partitioned instances lose Redis.") var partitionAt: Double?
    @Option(name: .customLong("partition-for"), help: "Seconds the partition lasts. (default: 60)") var partitionFor: Double?
    @Option(help: "How many instances the partition cuts off from Redis. (default: 1)") var partitioned: Int?
    @Option(help: "Designs to replay, comma-separated.") var designs = "naive,ttl,floodgate"
    @Option(help: "Redis URL. Default: a private redis-server on a free loopback port.") var redis: String?
    @Option(help: "The private redis-server's kind: plain (CLIENT TRACKING), no-tracking (CLIENT renamed away) or keyspace (no CLIENT, keyspace notifications on). (default: plain)")
    var server: String?
    @Option(help: "Output: table, markdown, json or csv.") var format = "table"
    @Option(help: "Write an SVG plot of Redis commands per simulated minute for each design to this file (one scenario).") var plot: String?
    @Option(name: .customLong("price-per-100k"), help: "Price per 100,000 commands, for the cost per month.") var pricePer100k = 0.20
    @Flag(name: .customLong("no-outage"), help: "No hubspot outage at a third of the run.") var noOutage = false
    @Flag(name: .customLong("no-throttle"), help: "No 429 at two thirds of the run.") var noThrottle = false

    @Sendable static func showProgress(_ design: String, _ minute: Int, _ calls: Int) {
        writeToStandardError("\r\(design): simulated minute \(minute), \(calls) calls   ")
    }

    /// Sets the options given as flags on `workload` (a scenario's or the incident's), placing the scenario's events
    /// in the run as it ends up (those given as flags win), and validates it.
    func applyFlags(to workload: inout Workload, scenario: Scenario?) throws {
        if let instances { workload.instances = instances }
        if let tenants { workload.tenants = tenants }
        if let rate { workload.rate = rate }
        if let zipf { workload.zipf = zipf }
        if let mix {
            let shares = mix.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard !shares.contains(where: { $0 == nil }) else { throw ValidationError("--mix: numbers separated by commas, e.g. 0.5,0.3,0.2") }
            workload.mix = shares.compactMap { $0 }
        }
        if let objects { workload.objects = objects }
        if let cacheTTL { workload.cacheTTL = .seconds(Int64(cacheTTL)) }
        if let failureRate { workload.failureRate = failureRate }
        if let minutes { workload.minutes = minutes }
        if let seed { workload.seed = seed }
        if let routing {
            guard let value = Workload.Routing(rawValue: routing) else { throw ValidationError("--routing: uniform, sticky or skewed") }
            workload.routing = value
        }
        if let limits {
            guard let value = Workload.LimitSource(rawValue: limits) else { throw ValidationError("--limits: workload or profiles") }
            workload.limits = value
        }
        if let limitScale { workload.limitScale = limitScale }
        if let hotTenants { workload.hotTenants = hotTenants }
        if let hotFactor { workload.hotFactor = hotFactor }
        if let hotIntegration {
            guard let index = Workload.integrations.firstIndex(of: hotIntegration) else {
                throw ValidationError("--hot-integration: slack, hubspot or salesforce")
            }
            workload.hotIntegration = index
        }
        if noOutage { workload.outage = false }
        if noThrottle { workload.throttle = false }
        scenario?.placeEvents(in: &workload)
        try applyEventFlags(to: &workload)
        do {
            try workload.validate()
        } catch let error as FloodgateError {
            throw ValidationError(error.message)
        }
    }

    /// The deploy, crash and partition flags.
    func applyEventFlags(to workload: inout Workload) throws {
        func seconds(_ value: Double, _ flag: String) throws -> Duration {
            guard value.isFinite, value >= 0 else { throw ValidationError("\(flag) must be a non-negative number of seconds") }
            return .milliseconds(Int64(value * 1_000))
        }
        if let deployAt { workload.deployAt = try seconds(deployAt, "--deploy-at") }
        if let deployPause { workload.deployPause = try seconds(deployPause, "--deploy-pause") }
        if let crashAt { workload.crashAt = try seconds(crashAt, "--crash-at") }
        if let crashCount { workload.crashCount = crashCount }
        if let partitionAt { workload.partitionAt = try seconds(partitionAt, "--partition-at") }
        if let partitionFor { workload.partitionFor = try seconds(partitionFor, "--partition-for") }
        if let partitioned { workload.partitioned = partitioned }
    }

    func run() async throws {
        guard ["table", "markdown", "json", "csv"].contains(format) else {
            throw ValidationError("--format: table, markdown, json or csv")
        }
        guard pricePer100k >= 0 else { throw ValidationError("--price-per-100k must not be negative") }
        let scenarios: [Scenario]?
        switch scenario {
        case nil: scenarios = nil
        case "all": scenarios = Scenario.all
        case let name?:
            guard let named = Scenario.named(name) else {
                throw ValidationError("--scenario: \(Scenario.all.map(\.name).joined(separator: ", ")) or all")
            }
            scenarios = [named]
        }
        if plot != nil, scenario == "all" { throw ValidationError("--plot: one scenario at a time") }
        let chosen: [Scenario?] = scenarios.map { $0.map(Optional.some) } ?? [nil]
        let runs = try chosen.map { scenario -> (Scenario?, Workload) in
            var workload = scenario?.workload() ?? Workload()
            try applyFlags(to: &workload, scenario: scenario)
            return (scenario, workload)
        }
        let names = designs.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !names.isEmpty, names.allSatisfy(Simulation.designNames.contains) else {
            throw ValidationError("--designs: comma-separated, of \(Simulation.designNames.joined(separator: ", "))")
        }
        guard let serverKind = RedisServerKind(rawValue: server ?? "plain") else {
            throw ValidationError("--server: \(RedisServerKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if server != nil, redis != nil { throw ValidationError("--server: only with the private redis-server, not with --redis") }
        var reports: [(Scenario?, SimulationReport)] = []
        do {
            let progress: (@Sendable (String, Int, Int) -> Void)? = isatty(STDERR_FILENO) == 1 ? Self.showProgress : nil
            for (scenario, workload) in runs {
                let report = try await Simulation.run(workload, designs: names, redisURL: redis, server: serverKind, progress: progress)
                reports.append((scenario, report))
            }
            if progress != nil { writeToStandardError("\r\u{1B}[K") }
        } catch let error as LocalRedisServer.StartError {
            throw commandFailure(error.description)
        }
        if let plot, let report = reports.first?.1 {
            do {
                try Data(CommandPlot(report).svg.utf8).write(to: URL(fileURLWithPath: plot))
            } catch {
                throw ValidationError("--plot: cannot write \(plot): \(error.localizedDescription)")
            }
        }
        if scenarios != nil {
            let rows = reports.map { scenario, report in
                ScenarioMatrix.Row(scenario: scenario?.name ?? "custom", summary: scenario?.summary ?? "", report: report)
            }
            let matrix = ScenarioMatrix(scenarios: rows)
            switch format {
            case "json": print(matrix.json)
            case "csv": print(matrix.csv)
            case "markdown": print(matrix.markdown)
            default: print(matrix.table)
            }
            return
        }
        let report = reports[0].1
        switch format {
        case "json":
            print(report.json)
        case "csv":
            print(report.csv)
        case "markdown":
            print(report.markdown)
        default:
            print(report.table)
            print()
            print(report.summary(pricePer100k: pricePer100k))
        }
    }
}

/// Progress goes to standard error, and only on a terminal.
private func writeToStandardError(_ text: String) {
    let bytes = Array(text.utf8)
    _ = bytes.withUnsafeBytes { Glibc.write(STDERR_FILENO, $0.baseAddress, $0.count) }
}
