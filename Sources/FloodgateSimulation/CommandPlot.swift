/// An SVG line chart of Redis commands per simulated minute, one line per design: the provider dashboard's "GET line",
/// readable in any browser.
public struct CommandPlot: Sendable {
    public let report: SimulationReport

    public init(_ report: SimulationReport) { self.report = report }

    static let colors = ["#d62728", "#ff7f0e", "#2ca02c", "#1f77b4", "#9467bd"]

    public var svg: String {
        let width = 900.0
        let height = 420.0
        let left = 80.0
        let right = 160.0
        let top = 40.0
        let bottom = 50.0
        let minutes = max(1, report.designs.map(\.commandsPerMinute.count).max() ?? 1)
        let peak = max(1, report.designs.flatMap(\.commandsPerMinute).max() ?? 1)
        let scale = Self.niceCeiling(Double(peak))
        func x(_ minute: Int) -> Double { left + (width - left - right) * Double(minute) / Double(max(1, minutes - 1)) }
        func y(_ value: Double) -> Double { top + (height - top - bottom) * (1 - value / scale) }
        var parts: [String] = []
        parts.append("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">")
        parts.append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>")
        parts.append("<text x=\"\(Int(left))\" y=\"24\" font-size=\"15\">Redis commands per simulated minute</text>")
        for step in 0...4 {
            let value = scale * Double(step) / 4
            let yy = y(value)
            parts.append("<line x1=\"\(left)\" y1=\"\(yy)\" x2=\"\(width - right)\" y2=\"\(yy)\" stroke=\"#ddd\"/>")
            parts.append("<text x=\"\(left - 8)\" y=\"\(yy + 4)\" text-anchor=\"end\">\(Int(value))</text>")
        }
        let tick = max(1, minutes / 6)
        for minute in stride(from: 0, to: minutes, by: tick) {
            parts.append("<text x=\"\(x(minute))\" y=\"\(height - bottom + 18)\" text-anchor=\"middle\">\(minute)</text>")
        }
        parts.append("<text x=\"\((left + width - right) / 2)\" y=\"\(height - 10)\" text-anchor=\"middle\">simulated minute</text>")
        parts.append("<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(height - bottom)\" stroke=\"black\"/>")
        parts.append("<line x1=\"\(left)\" y1=\"\(height - bottom)\" x2=\"\(width - right)\" y2=\"\(height - bottom)\" stroke=\"black\"/>")
        for (index, design) in report.designs.enumerated() {
            let color = Self.colors[index % Self.colors.count]
            let points = design.commandsPerMinute.enumerated().map { "\(x($0.offset)),\(y(Double($0.element)))" }
            parts.append("<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(points.joined(separator: " "))\"/>")
            let legendY = top + 20 * Double(index)
            parts.append("<line x1=\"\(width - right + 15)\" y1=\"\(legendY)\" x2=\"\(width - right + 40)\" y2=\"\(legendY)\" stroke=\"\(color)\" stroke-width=\"3\"/>")
            parts.append("<text x=\"\(width - right + 46)\" y=\"\(legendY + 4)\">\(design.name)</text>")
        }
        parts.append("</svg>")
        return parts.joined(separator: "\n") + "\n"
    }

    /// 1, 2 or 5 times a power of ten, at least `value`.
    static func niceCeiling(_ value: Double) -> Double {
        var magnitude = 1.0
        while magnitude * 10 <= value { magnitude *= 10 }
        for factor in [1.0, 2.0, 5.0, 10.0] where factor * magnitude >= value { return factor * magnitude }
        return 10 * magnitude
    }
}
