/// Training curves as one PNG of stacked panels: each series drawn faint as logged and
/// strong as an exponential moving average, stage starts marked. Both trainers' reports
/// draw through this, so their charts read the same way.
public struct CurveChart {
    /// A curve before styling: its name, its points, its colour.
    public struct Curve {
        public var label: String
        public var points: [(x: Double, y: Double)]
        public var color: (UInt8, UInt8, UInt8)
        /// Evaluation curves have few points: drawn as logged, without the faint copy.
        public var smoothed: Bool
        public init(
            _ label: String, _ points: [(x: Double, y: Double)], _ color: (UInt8, UInt8, UInt8), smoothed: Bool = true
        ) {
            self.label = label
            self.points = points
            self.color = color
            self.smoothed = smoothed
        }
    }

    public var panels: [(title: String, curves: [Curve])]
    public var markers: [(x: Double, label: String)]
    public var xUnit: String

    public init(
        panels: [(title: String, curves: [Curve])], markers: [(x: Double, label: String)], xUnit: String = "steps"
    ) {
        self.panels = panels
        self.markers = markers
        self.xUnit = xUnit
    }

    /// Stage boundaries from a step-ordered list of (step, stage name).
    public static func stageMarkers(_ steps: [(step: Int, stage: String)]) -> [(x: Double, label: String)] {
        var markers: [(x: Double, label: String)] = []
        var last: String? = nil
        for (step, stage) in steps where stage != last {
            markers.append((Double(step), stage))
            last = stage
        }
        return markers
    }

    /// Exponential moving average, so noisy per-step values read as a trend.
    public static func smoothed(_ values: [(x: Double, y: Double)], alpha: Double) -> [(x: Double, y: Double)] {
        var out: [(x: Double, y: Double)] = []
        var ema: Double? = nil
        for p in values {
            ema = ema.map { alpha * p.y + (1 - alpha) * $0 } ?? p.y
            out.append((p.x, ema!))
        }
        return out
    }

    public func writePNG(to path: String, width: Int = 1100, panelHeight: Int = 250) throws {
        var canvas = Canvas(width: width, height: panelHeight * panels.count + 10)
        let xs = panels.flatMap { $0.curves.flatMap { $0.points.map(\.x) } }
        let low = xs.min() ?? 0
        let xRange = low...max(xs.max() ?? 1, low + 1)
        let count = panels.flatMap(\.curves).map(\.points.count).max() ?? 1
        let window = max(5.0, Double(count) / 50)  // smoothing over ~2 % of the run
        let alpha = 2 / (window + 1)
        for (i, panel) in panels.enumerated() {
            var series: [Panel.Series] = []
            for curve in panel.curves {
                guard curve.smoothed else {
                    series.append(Panel.Series(label: curve.label, points: curve.points, color: curve.color))
                    continue
                }
                let c = curve.color
                let faint = (
                    UInt8(255 - (255 - Int(c.0)) / 4), UInt8(255 - (255 - Int(c.1)) / 4),
                    UInt8(255 - (255 - Int(c.2)) / 4)
                )
                series.append(Panel.Series(label: "", points: curve.points, color: faint))
                series.append(
                    Panel.Series(label: curve.label, points: Self.smoothed(curve.points, alpha: alpha), color: c))
            }
            Panel(title: panel.title, series: series, markers: markers, xUnit: xUnit)
                .draw(into: &canvas, x: 0, y: 5 + i * panelHeight, w: width, h: panelHeight, xRange: xRange)
        }
        try canvas.writePNG(to: path)
    }
}
