/// The report as a markdown table, CSV, and the summary lines under the table (reduction against `naive`, cost per
/// month, commands by component).
extension SimulationReport {
    /// The columns of the table formats, with how to print each.
    static let columns: [(String, @Sendable (DesignReport) -> String)] = [
        ("design", { $0.name }),
        ("calls", { String($0.calls) }),
        ("commands", { String($0.commands) }),
        ("GETs", { String($0.gets) }),
        ("commands/call", { format2($0.commandsPerCall) }),
        ("coordination/call", { format4($0.coordinationCommandsPerCall) }),
        ("commands/day", { String($0.commandsPerDay) }),
        ("overshoot", { String($0.overshoot) }),
        ("false rejections", { String($0.falseRejections) }),
        ("breaker propagation s", { $0.breakerPropagationSeconds.map(format2) ?? "never" }),
        ("calls during outage", { String($0.callsDuringOutageAfterFirstFailure) }),
        ("429 propagation s", { $0.throttlePropagationSeconds.map(format2) ?? "never" }),
        ("calls during retry-after", { String($0.callsDuringRetryAfter) }),
        ("cache hit ratio", { format2($0.cacheHitRatio * 100) + "%" }),
        ("wall s", { format2($0.wallSeconds) }),
    ]

    public var markdown: String {
        var lines = ["| " + Self.columns.map(\.0).joined(separator: " | ") + " |"]
        lines.append("|" + Self.columns.map { _ in "---" }.joined(separator: "|") + "|")
        for design in designs { lines.append("| " + Self.columns.map { $0.1(design) }.joined(separator: " | ") + " |") }
        return lines.joined(separator: "\n") + "\n\n" + summary(pricePer100k: 0.20)
    }

    public var csv: String {
        var lines = [Self.columns.map(\.0).joined(separator: ",")]
        for design in designs { lines.append(Self.columns.map { $0.1(design) }.joined(separator: ",")) }
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
