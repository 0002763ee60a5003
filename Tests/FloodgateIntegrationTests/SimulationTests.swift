import Floodgate
import FloodgateSimulation
import Testing

/// A short replay of the incident workload on a private redis-server: every design runs, figures are consistent.
@Suite("Simulation (short)", .serialized)
struct SimulationTests {
    @Test func aShortReplayRunsEveryDesignWithoutOvershootForFloodgate() async throws {
        var workload = Workload()
        workload.minutes = 3
        let report = try await Simulation.run(workload)
        #expect(report.designs.map(\.name) == ["naive", "ttl", "floodgate"])
        let calls = report.designs.map(\.calls)
        #expect(Set(calls).count == 1 && calls[0] > 1_000, "the same calls for every design")
        let naive = report.designs[0]
        let floodgate = report.designs[2]
        #expect(floodgate.overshoot == 0)
        #expect(floodgate.commands < naive.commands)
        #expect(naive.gets > 3 * naive.calls, "naive: at least the quota GET, the cache's GET of it, and the cache read")
        #expect(naive.commandsByComponent["budget", default: 0] > 0 && naive.commandsByComponent["rateLimit", default: 0] > 0)
        // The simulator's own accounting agrees with INFO commandstats for the baselines (no scripts there).
        #expect(naive.commandsByComponent.values.reduce(0, +) == naive.commands)
        // The other formats carry the same rows.
        #expect(report.csv.split(separator: "\n").count == 4)
        #expect(report.csv.split(separator: "\n")[1].hasPrefix("naive,\(naive.calls),\(naive.commands),"))
        #expect(report.markdown.contains("| floodgate | \(floodgate.calls) | \(floodgate.commands) |"))
        #expect(report.summary(pricePer100k: 0.20).contains("fewer commands than naive"))
        // The plot's data: one count per simulated minute, adding up to the design's commands.
        for design in report.designs {
            #expect(design.commandsPerMinute.count == 3)
            #expect(design.commandsPerMinute.reduce(0, +) == design.commands)
        }
        let svg = CommandPlot(report).svg
        #expect(svg.hasPrefix("<svg") && svg.components(separatedBy: "<polyline").count == 4)
    }
}
