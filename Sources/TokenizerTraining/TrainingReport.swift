import Foundation
import TrainingRun

/// Reads a run's `log.jsonl` and draws its curves (loss, L1, PSNR, bit usage) into one PNG.
public struct TrainingReport {
    public let records: [TokenizerTrainer.StepRecord]

    /// Reads every complete record; a torn last line (a crash mid-write) is skipped.
    public init(run: String) throws {
        do {
            records = try RunFolder(run).records(TokenizerTrainer.StepRecord.self)
        } catch let error as RunError {
            throw TrainingError(.io, error.message)
        }
        guard !records.isEmpty else { throw TrainingError(.io, "\(run)/log.jsonl holds no step records yet") }
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

    /// Writes the chart: four panels, raw values faint, smoothed values strong, stage starts marked.
    public func writePNG(to path: String) throws {
        func curve(_ label: String, _ f: (TokenizerTrainer.StepRecord) -> Double?, _ color: (UInt8, UInt8, UInt8))
            -> CurveChart.Curve
        {
            CurveChart.Curve(label, records.compactMap { r in f(r).map { (x: Double(r.step), y: $0) } }, color)
        }
        try CurveChart(
            panels: [
                ("total loss", [curve("loss", \.loss, (200, 40, 40))]),
                (
                    "reconstruction",
                    [curve("l1", \.l1, (40, 90, 200)), curve("1-ssim", { 1 - $0.ssim }, (40, 160, 60))]
                ),
                ("psnr (db, 8-bit)", [curve("psnr", \.psnr, (120, 40, 160))]),
                (
                    "bit usage: per-bit mean min/max, codebook entropy",
                    [
                        curve("min", { $0.bitMeans.min() }, (230, 120, 0)),
                        curve("max", { $0.bitMeans.max() }, (0, 140, 140)),
                        curve("entropy", \.bitEntropy, (80, 80, 80)),
                    ]
                ),
            ],
            markers: CurveChart.stageMarkers(records.map { ($0.step, $0.stage) })
        ).writePNG(to: path)
    }
}
