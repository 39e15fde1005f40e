import Catalog
import Foundation
import Logging
import Model
import Tensor
import TokenDataset
import TrainingRun

/// What `videoar bench train` measures: real training steps over the shards (loader,
/// corruption, forward, backward, AdamW) timed from the run's own log, and the FLOPs of the
/// batches they ran, counted by a forward pass per layout (training ≈ 3 × forward).
public struct TrainingBenchmark {
    public struct Result: Sendable {
        public var steps: Int
        public var tokens: Int
        public var seconds: Double
        public var loadSeconds: Double
        public var trainingFLOPs: Double
        public var parameters: Int
        public var buckets: [String]

        public var tokensPerSecond: Double { Double(tokens) / seconds }
        public var gflops: Double { trainingFLOPs / seconds / 1e9 }
        /// Share of wall time a step waited for its batch.
        public var loaderShare: Double { loadSeconds / (seconds + loadSeconds) }
    }

    /// Trains `warmup + steps` steps of `configuration`'s first stage in a scratch run folder
    /// and measures the last `steps`.
    public static func run(
        configuration: ModelTrainingConfiguration, steps: Int, warmup: Int, logger: Logger
    ) throws -> Result {
        var c = configuration
        c.stages = [c.stages[0]]
        c.stages[0].steps = warmup + steps
        c.evaluation.every = 0
        c.heldOut.fraction = 0
        c.checkpointEvery = Int.max / 2
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bench-train-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let trainer = try ModelTrainer(configuration: c, runDirectory: folder, resume: false, logger: logger)
        _ = try trainer.run()
        let measured = try RunFolder(folder).records(ModelTrainer.StepRecord.self).suffix(steps)

        // Forward FLOPs of one clip per layout, counted on a real batch of it.
        let dataset = ShardDataset(
            catalog: try Catalog(path: c.dataFolder + "/catalog.sqlite"), dataFolder: c.dataFolder,
            heldOut: c.heldOut, logger: logger)
        let plan = try dataset.plan(c.stages[0].data, globalBatch: 1, seed: c.seed, stage: 0, epoch: 0)
        // Keyed by bucket and (cut) frame count: one bucket holds stills, key frames and windows of several lengths.
        func key(_ bucket: String, _ frames: Int) -> String { "\(bucket)|\(frames)" }
        var perClip: [String: Double] = [:]
        var wanted = Set(measured.map { key($0.bucket, $0.frames) })
        for index in plan.batches.indices where !wanted.isEmpty {
            guard let batch = try dataset.load(plan.slice(index)),
                wanted.remove(key(batch.layout.bucket, batch.layout.frames)) != nil
            else { continue }
            let layout = SequenceLayout(frames: batch.layout.latentFrames, schedule: batch.schedule)
            let forcing = try TeacherForcing(codes: batch.codes)(
                bits: batch.bits, ratios: nil, generator: Generator(seed: 0))
            perClip[key(batch.layout.bucket, batch.layout.frames)] = try withoutGrad {
                try FLOPCounter.measure {
                    try trainer.model(
                        inputs: forcing.inputs, condition: trainer.model.captions(batch.captions), layout: layout)
                }.flops
            }
        }
        return Result(
            steps: measured.count, tokens: measured.map(\.tokens).reduce(0, +),
            seconds: measured.map(\.seconds).reduce(0, +), loadSeconds: measured.map(\.loadSeconds).reduce(0, +),
            trainingFLOPs: measured.map { 3 * Double($0.clips) * (perClip[key($0.bucket, $0.frames)] ?? 0) }.reduce(0, +),
            parameters: trainer.parameterCount, buckets: Set(measured.map(\.bucket)).sorted())
    }
}
