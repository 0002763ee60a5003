#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One report per scenario: the matrix of what each design costs and what its users feel, as a table, markdown,
/// JSON and CSV (`floodgate simulate --scenario all`).
public struct ScenarioMatrix: Sendable, Codable, Hashable {
    public struct Row: Sendable, Codable, Hashable {
        public var scenario: String
        public var summary: String
        public var report: SimulationReport

        public init(scenario: String, summary: String, report: SimulationReport) {
            self.scenario = scenario
            self.summary = summary
            self.report = report
        }
    }

    public var scenarios: [Row]

    public init(scenarios: [Row]) {
        self.scenarios = scenarios
    }

    typealias Column = SimulationReport.Column

    static func percent(_ value: Double?) -> String { value.map { format2($0 * 100) + "%" } ?? "-" }
    static func seconds(_ value: Double?, measured: Bool) -> String { value.map(format2) ?? (measured ? "never" : "-") }

    static let columns: [Column] = [
        Column(heading: "calls", short: "calls") { String($0.calls) },
        Column(heading: "commands/call", short: "cmd/call") { format2($0.commandsPerCall) },
        Column(heading: "coordination/call", short: "coord") { format4($0.coordinationCommandsPerCall) },
        Column(heading: "fixed (scripts once)", short: "fixed") { format4($0.fixedCoordinationCommandsPerCall) },
        Column(heading: "per key (scripts once)", short: "per key") { format4($0.perKeyCoordinationCommandsPerCall) },
        Column(heading: "usable capacity steady", short: "usable") { percent($0.usage.usableCapacitySteady) },
        Column(heading: "usable capacity first window", short: "1st win") { percent($0.usage.usableCapacityFirstWindow) },
        Column(heading: "usable capacity after deploy", short: "deploy") { percent($0.usage.usableCapacityAfterDeploy) },
        Column(heading: "time to full capacity s", short: "full s") {
            seconds($0.usage.timeToFullCapacitySeconds, measured: $0.usage.hotKeys > 0)
        },
        Column(heading: "time to full capacity after deploy s", short: "full s dep") {
            seconds($0.usage.timeToFullCapacityAfterDeploySeconds, measured: $0.usage.usableCapacityAfterDeploy != nil)
        },
        Column(heading: "false refusals (warm keys)", short: "false ref") { percent($0.usage.falseRefusalRate) },
        Column(heading: "commands per admitted call (overloaded keys)", short: "hot cmd") {
            $0.usage.overloadedCommandsPerAdmittedCall.map(format2) ?? "-"
        },
        Column(heading: "overshoot", short: "overshoot") { String($0.overshoot) },
        Column(heading: "failed on Redis", short: "failed") { String($0.outcomes.failedOnRedis) },
    ]

    private var rows: [(scenario: String, design: DesignReport)] {
        scenarios.flatMap { row in row.report.designs.map { (row.scenario, $0) } }
    }

    public var table: String {
        let header = ["scenario", "design"] + Self.columns.map(\.short)
        let cells = [header] + rows.map { row in [row.scenario, row.design.name] + Self.columns.map { $0.value(row.design) } }
        let widths = header.indices.map { index in cells.map { $0[index].count }.max() ?? 0 }
        return cells.map { row in
            row.indices.map { index in
                index < 2 ? row[index].padding(toLength: widths[index], withPad: " ", startingAt: 0) : row[index].leftPadded(widths[index])
            }
            .joined(separator: "  ")
        }
        .joined(separator: "\n")
    }

    public var markdown: String {
        var lines = ["| scenario | design | " + Self.columns.map(\.heading).joined(separator: " | ") + " |"]
        lines.append("|" + Array(repeating: "---", count: Self.columns.count + 2).joined(separator: "|") + "|")
        for (scenario, design) in rows {
            lines.append("| \(scenario) | \(design.name) | " + Self.columns.map { $0.value(design) }.joined(separator: " | ") + " |")
        }
        lines.append("")
        for row in scenarios { lines.append("- **\(row.scenario)**: \(row.summary)") }
        return lines.joined(separator: "\n")
    }

    public var csv: String {
        var lines = [(["scenario", "design"] + Self.columns.map(\.heading)).joined(separator: ",")]
        for (scenario, design) in rows {
            lines.append(([scenario, design.name] + Self.columns.map { $0.value(design) }).joined(separator: ","))
        }
        return lines.joined(separator: "\n")
    }

    /// `{"scenarios": [{"scenario", "summary", "report": {"workload", "designs"}}]}` with sorted keys.
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }
}
