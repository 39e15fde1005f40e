import Foundation
import TrainingRun

/// Reads a model run's `log.jsonl` and `eval.jsonl` and draws its curves: the loss, bit
/// accuracy per scale, held-out NLL against both baselines, and the learning rate.
public struct ModelTrainingReport {
    public let steps: [ModelTrainer.StepRecord]
    public let evaluations: [ModelTrainer.EvalRecord]

    public init(run: String) throws {
        let folder = RunFolder(run)
        do {
            steps = try folder.records(ModelTrainer.StepRecord.self)
        } catch let error as RunError {
            throw TrainerError(.io, error.message)
        }
        guard !steps.isEmpty else { throw TrainerError(.io, "\(run)/log.jsonl holds no step records yet") }
        evaluations = (try? folder.records(ModelTrainer.EvalRecord.self, file: "eval.jsonl")) ?? []
    }

    /// The last held-out evaluation, if any.
    public var latest: ModelTrainer.EvalRecord? { evaluations.last }

    public func writePNG(to path: String) throws {
        let colors: [(UInt8, UInt8, UInt8)] = [
            (230, 120, 0), (200, 40, 40), (120, 40, 160), (40, 90, 200), (40, 160, 60), (0, 140, 140), (80, 80, 80),
            (160, 120, 40),
        ]
        func points(_ f: (ModelTrainer.StepRecord) -> Double?) -> [(x: Double, y: Double)] {
            steps.compactMap { r in f(r).map { (x: Double(r.step), y: $0) } }
        }
        let scales = steps.map(\.scaleAccuracy.count).max() ?? 0
        let accuracy = (0..<scales).map { k in
            CurveChart.Curve(
                "s\(k + 1)", points { $0.scaleAccuracy.count > k ? $0.scaleAccuracy[k] * 100 : nil },
                colors[k % colors.count])
        }
        func evalPoints(_ f: (ModelTrainer.EvalRecord) -> Double?) -> [(x: Double, y: Double)] {
            evaluations.compactMap { e in f(e).map { (x: Double(e.step), y: $0) } }
        }
        let heldOut = [
            CurveChart.Curve("model", evalPoints(\.nll), (200, 40, 40), smoothed: false),
            CurveChart.Curve("no caption", evalPoints(\.unconditionalNLL), (230, 150, 150), smoothed: false),
            CurveChart.Curve("marginal", evalPoints(\.marginalNLL), (120, 120, 120), smoothed: false),
            CurveChart.Curve("copy prev frame", evalPoints(\.copyNLL), (40, 90, 200), smoothed: false),
        ].filter { !$0.points.isEmpty }
        var panels: [(title: String, curves: [CurveChart.Curve])] = [
            (
                "training loss (weighted) and nll (nats/bit)",
                [
                    CurveChart.Curve("loss", points(\.loss), (200, 40, 40)),
                    CurveChart.Curve("nll", points(\.nll), (40, 90, 200)),
                ]
            ),
            ("training bit accuracy per scale (%)", accuracy),
        ]
        if !heldOut.isEmpty { panels.append(("held-out nll (nats/bit) vs baselines", heldOut)) }
        panels.append(
            ("learning rate", [CurveChart.Curve("lr", points(\.learningRate), (80, 80, 80), smoothed: false)]))
        try CurveChart(panels: panels, markers: CurveChart.stageMarkers(steps.map { ($0.step, $0.stage) }))
            .writePNG(to: path)
    }
}
