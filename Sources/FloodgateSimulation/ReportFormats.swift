#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The report as a markdown table, CSV, and the summary lines under the table (reduction against `naive`, cost per
/// month, commands by component).
extension SimulationReport {
    /// One column of the table formats: its heading, its short heading (terminal), how to print a design's cell.
    struct Column: Sendable {
        let heading: String
        let short: String
        let value: @Sendable (DesignReport) -> String
    }

    static let columns: [Column] = [
        Column(heading: "design", short: "design") { $0.name },
        Column(heading: "calls", short: "calls") { String($0.calls) },
        Column(heading: "commands", short: "commands") { String($0.commands) },
        Column(heading: "GETs", short: "GETs") { String($0.gets) },
        Column(heading: "commands/call", short: "cmd/call") { format2($0.commandsPerCall) },
        Column(heading: "coordination/call", short: "coord/call") { format4($0.coordinationCommandsPerCall) },
        Column(heading: "coordination/call after warm-up", short: "steady") {
            $0.steadyCoordinationCommandsPerCall.map(format4) ?? "-"
        },
        Column(heading: "commands/day", short: "per day") { String($0.commandsPerDay) },
        Column(heading: "overshoot", short: "overshoot") { String($0.overshoot) },
        Column(heading: "false rejections", short: "false rej") { String($0.falseRejections) },
        Column(heading: "breaker detection s", short: "cb detect s") { $0.breakerDetectionSeconds.map(format2) ?? "never" },
        Column(heading: "breaker propagation s", short: "cb spread s") { $0.breakerPropagationSeconds.map(format2) ?? "never" },
        Column(heading: "calls during outage", short: "outage calls") { String($0.callsDuringOutageAfterFirstFailure) },
        Column(heading: "429 propagation s", short: "429 s") { $0.throttlePropagationSeconds.map(format2) ?? "never" },
        Column(heading: "calls during retry-after", short: "429 calls") { String($0.callsDuringRetryAfter) },
        Column(heading: "cache hit ratio", short: "cache hit") { format2($0.cacheHitRatio * 100) + "%" },
        Column(heading: "cache GETs finding a value", short: "GET found") {
            $0.cacheGetsFindingValue.map { format2($0 * 100) + "%" } ?? "-"
        },
        Column(heading: "usable capacity steady", short: "usable") { ScenarioMatrix.percent($0.usage.usableCapacitySteady) },
        Column(heading: "false refusals (warm keys)", short: "false ref") { ScenarioMatrix.percent($0.usage.falseRefusalRate) },
        Column(heading: "wall s", short: "wall s") { format2($0.wallSeconds) },
    ]

    public var markdown: String {
        var lines = ["| " + Self.columns.map(\.heading).joined(separator: " | ") + " |"]
        lines.append("|" + Self.columns.map { _ in "---" }.joined(separator: "|") + "|")
        for design in designs { lines.append("| " + Self.columns.map { $0.value(design) }.joined(separator: " | ") + " |") }
        return lines.joined(separator: "\n") + "\n\n" + summary(pricePer100k: 0.20)
    }

    /// One JSON object: the workload's parameters and every design's figures (sorted keys).
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Encoding plain numbers, strings and dictionaries cannot fail.
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    public var csv: String {
        var lines = [Self.columns.map(\.heading).joined(separator: ",")]
        for design in designs { lines.append(Self.columns.map { $0.value(design) }.joined(separator: ",")) }
        return lines.joined(separator: "\n")
    }

    /// Reduction against `naive`, cost per month at `pricePer100k` per 100,000 commands, commands by component.
    public func summary(pricePer100k: Double) -> String {
        var lines: [String] = []
        let naive = designs.first { $0.name == "naive" }
        for design in designs {
            var line = "\(design.name): \(design.commandsPerDay * 30) commands a month"
            line += ", $\(format2(Double(design.commandsPerDay * 30) / 100_000 * pricePer100k)) at $\(format2(pricePer100k)) per 100k"
            if let naive, design.name != "naive", naive.commands > 0 {
                let all = 100 * (1 - Double(design.commands) / Double(naive.commands))
                let coordination = naive.coordinationCommandsPerCall > 0
                    ? 100 * (1 - design.coordinationCommandsPerCall / naive.coordinationCommandsPerCall) : 0
                line += "; \(format2(all))% fewer commands than naive, \(format2(coordination))% fewer coordination commands"
            }
            let components = design.commandsByComponent.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
            line += " — by component: " + components.joined(separator: ", ")
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}
