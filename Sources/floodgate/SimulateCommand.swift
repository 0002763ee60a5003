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

/// `floodgate simulate`: replays the incident workload (WORKLOAD.md) for the naive design, the incident's fix and
/// Floodgate, on virtual time against a real Redis, and prints what each cost.
struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Replay the incident workload for naive, ttl and floodgate and print the before/after table."
    )

    @Option(help: "App instances.") var instances = 4
    @Option(help: "Tenants (each connected to slack, hubspot and salesforce).") var tenants = 100
    @Option(help: "Fleet-wide calls per second (Poisson).") var rate = 6.5
    @Option(help: "Zipf exponent of tenant popularity.") var zipf = 1.1
    @Option(help: "Integration mix slack,hubspot,salesforce.") var mix = "0.5,0.3,0.2"
    @Option(help: "Cached objects per tenant connection.") var objects = 200
    @Option(name: .customLong("cache-ttl"), help: "Response cache TTL in seconds.") var cacheTTL = 60
    @Option(name: .customLong("failure-rate"), help: "Share of upstream calls failing at random.") var failureRate = 0.02
    @Option(help: "Simulated minutes.") var minutes = 60
    @Option(help: "Random seed: the same seed gives the same calls.") var seed: UInt64 = 1
    @Option(help: "Designs to replay, comma-separated.") var designs = "naive,ttl,floodgate"
    @Option(help: "Redis URL. Default: a private redis-server on a free loopback port.") var redis: String?
    @Option(help: "Output: table, markdown, json or csv.") var format = "table"
    @Option(help: "Write an SVG plot of Redis commands per simulated minute for each design to this file.") var plot: String?
    @Option(name: .customLong("price-per-100k"), help: "Price per 100,000 commands, for the cost per month.") var pricePer100k = 0.20
    @Flag(name: .customLong("no-outage"), help: "No hubspot outage at a third of the run.") var noOutage = false
    @Flag(name: .customLong("no-throttle"), help: "No 429 at two thirds of the run.") var noThrottle = false

    @Sendable static func showProgress(_ design: String, _ minute: Int, _ calls: Int) {
        writeToStandardError("\r\(design): simulated minute \(minute), \(calls) calls   ")
    }

    func run() async throws {
        var workload = Workload()
        workload.instances = instances
        workload.tenants = tenants
        workload.rate = rate
        workload.zipf = zipf
        let shares = mix.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !shares.contains(where: { $0 == nil }) else { throw ValidationError("--mix: numbers separated by commas, e.g. 0.5,0.3,0.2") }
        workload.mix = shares.compactMap { $0 }
        workload.objects = objects
        workload.cacheTTL = .seconds(Int64(cacheTTL))
        workload.failureRate = failureRate
        workload.minutes = minutes
        workload.seed = seed
        workload.outage = !noOutage
        workload.throttle = !noThrottle
        guard ["table", "markdown", "json", "csv"].contains(format) else {
            throw ValidationError("--format: table, markdown, json or csv")
        }
        guard pricePer100k >= 0 else { throw ValidationError("--price-per-100k must not be negative") }
        do {
            try workload.validate()
        } catch let error as FloodgateError {
            throw ValidationError(error.message)
        }
        let report: SimulationReport
        do {
            let onTerminal = isatty(STDERR_FILENO) == 1
            var progress: (@Sendable (String, Int, Int) -> Void)? = nil
            if onTerminal { progress = Self.showProgress }
            let names = designs.split(separator: ",").map { String($0) }
            report = try await Simulation.run(workload, designs: names, redisURL: redis, progress: progress)
            if isatty(STDERR_FILENO) == 1 { writeToStandardError("\r\u{1B}[K") }
        } catch let error as LocalRedisServer.StartError {
            throw CleanExit.message("floodgate: \(error.description)")
        }
        if let plot {
            do {
                try Data(CommandPlot(report).svg.utf8).write(to: URL(fileURLWithPath: plot))
            } catch {
                throw ValidationError("--plot: cannot write \(plot): \(error.localizedDescription)")
            }
        }
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
