import Foundation

/// Reads a run's `log.jsonl` and draws its curves (loss, L1, PSNR, bit usage) into one PNG.
public struct TrainingReport {
    public let records: [TokenizerTrainer.StepRecord]

    /// Reads every complete record; a torn last line (a crash mid-write) is skipped.
    public init(run: String) throws {
        let path = run + "/log.jsonl"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw TrainingError(.io, "\(path) not found: is \(run) a training run folder?")
        }
        let decoder = JSONDecoder()
        records = text.split(separator: "\n").compactMap {
            try? decoder.decode(TokenizerTrainer.StepRecord.self, from: Data($0.utf8))
        }
        guard !records.isEmpty else { throw TrainingError(.io, "\(path) holds no step records yet") }
    }

    /// Mean of `value` over the last `window` records of each stage, in stage order.
    public func stageSummary(window: Int = 100) -> [(
        stage: String, steps: ClosedRange<Int>, loss: Double, psnr: Double, ssim: Double,
        bitMin: Double, bitMax: Double
    )] {
        var order: [String] = []
        for r in records where !order.contains(r.stage) { order.append(r.stage) }
        return order.map { stage in
            let all = records.filter { $0.stage == stage }
            let tail = all.suffix(window)
            func mean(_ f: (TokenizerTrainer.StepRecord) -> Double) -> Double {
                tail.map(f).reduce(0, +) / Double(tail.count)
            }
            return (
                stage, all.first!.step...all.last!.step, mean(\.loss), mean(\.psnr), mean(\.ssim),
                mean { $0.bitMeans.min() ?? 0 }, mean { $0.bitMeans.max() ?? 0 }
            )
        }
    }

    /// Exponential moving average, so noisy per-step values read as a trend.
    static func smoothed(_ values: [(x: Double, y: Double)], alpha: Double) -> [(x: Double, y: Double)] {
        var out: [(x: Double, y: Double)] = []
        var ema: Double? = nil
        for p in values {
            ema = ema.map { alpha * p.y + (1 - alpha) * $0 } ?? p.y
            out.append((p.x, ema!))
        }
        return out
    }

    /// Writes the chart: four panels, raw values faint, smoothed values strong, stage starts marked.
    public func writePNG(to path: String) throws {
        let width = 1100, panelHeight = 250
        var canvas = Canvas(width: width, height: panelHeight * 4 + 10)
        let xs = records.map { Double($0.step) }
        let xRange = (xs.first ?? 0)...max((xs.last ?? 1), (xs.first ?? 0) + 1)
        var markers: [(x: Double, label: String)] = []
        var last = ""
        for r in records where r.stage != last {
            markers.append((Double(r.step), r.stage))
            last = r.stage
        }
        let window = max(5.0, Double(records.count) / 50)  // smoothing over ~2 % of the run
        let alpha = 2 / (window + 1)
        func series(_ label: String, _ f: (TokenizerTrainer.StepRecord) -> Double?, _ color: (UInt8, UInt8, UInt8))
            -> [Panel.Series]
        {
            let raw = records.compactMap { r in f(r).map { (x: Double(r.step), y: $0) } }
            let faint = (
                UInt8(255 - (255 - Int(color.0)) / 4), UInt8(255 - (255 - Int(color.1)) / 4),
                UInt8(255 - (255 - Int(color.2)) / 4)
            )
            return [
                Panel.Series(label: "", points: raw, color: faint),
                Panel.Series(label: label, points: Self.smoothed(raw, alpha: alpha), color: color),
            ]
        }
        let panels = [
            Panel(title: "total loss", series: series("loss", \.loss, (200, 40, 40)), markers: markers),
            Panel(
                title: "reconstruction",
                series: series("l1", \.l1, (40, 90, 200)) + series("1-ssim", { 1 - $0.ssim }, (40, 160, 60)),
                markers: markers),
            Panel(title: "psnr (db, 8-bit)", series: series("psnr", \.psnr, (120, 40, 160)), markers: markers),
            Panel(
                title: "bit usage: per-bit mean min/max, codebook entropy",
                series: series("min", { $0.bitMeans.min() }, (230, 120, 0))
                    + series("max", { $0.bitMeans.max() }, (0, 140, 140))
                    + series("entropy", \.bitEntropy, (80, 80, 80)), markers: markers),
        ]
        for (i, panel) in panels.enumerated() {
            panel.draw(into: &canvas, x: 0, y: 5 + i * panelHeight, w: width, h: panelHeight, xRange: xRange)
        }
        try canvas.writePNG(to: path)
    }
}
