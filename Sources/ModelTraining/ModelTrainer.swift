import AtomicFiles
import Catalog
import Foundation
import Logging
import Model
import Tensor
import TokenDataset
import TokenFormat
import TrainingRun

/// Trains the transformer through the configured stages, reading batches from the token
/// shards through the catalog (method §3, §4, §6).
///
/// The run folder holds `log.jsonl` (one record per step), `eval.jsonl` (one per held-out
/// evaluation), `plans/` (the current epoch's frozen order), `checkpoints/` and, at the end,
/// `model.safetensors`. A checkpoint stores the weights, the AdamW moments, both random
/// generators and the loader position (stage, epoch, batch), so a resumed run trains on
/// exactly the batches the uninterrupted one would have, with the same corruption draws.
public final class ModelTrainer {
    public let configuration: ModelTrainingConfiguration
    public let run: RunFolder
    private let logger: Logger
    private let dataset: ShardDataset
    public private(set) var model: VideoARTransformer
    private var optimizer: AdamW
    private var rng: SplitMix64
    private let generator: Generator
    public private(set) var step = 0
    private var position = Position(stage: 0, epoch: 0, batch: 0)
    private var tokenizerID: String?

    private var prefetcher: BatchPrefetcher?
    private var losses: [String: BitLoss] = [:]
    private var baselines: [Int: Baselines] = [:]
    private var heldOut: [Int: [TokenBatch]] = [:]

    /// Where the loader is: the next batch of `plan(stage, epoch)` to train on.
    public struct Position: Codable, Sendable, Equatable {
        public var stage: Int
        public var epoch: Int
        public var batch: Int
    }

    public enum Outcome: Equatable, Sendable {
        case finished(path: String)
        case paused(step: Int)
    }

    /// One line of `log.jsonl`.
    public struct StepRecord: Codable, Sendable {
        public var step: Int
        public var stage: String
        public var epoch: Int
        public var batchIndex: Int
        public var learningRate: Double
        /// The weighted training loss (what is minimised).
        public var loss: Double
        /// Mean BCE per bit (nats) against the (possibly re-quantized) targets.
        public var nll: Double
        public var accuracy: Double
        public var scaleAccuracy: [Double]
        public var frameAccuracy: [Double]
        public var gradNorm: Double
        public var flipped: Double
        public var bucket: String
        public var frames: Int
        public var clips: Int
        public var tokens: Int
        public var tokensPerSecond: Double
        public var seconds: Double
        /// Time the step waited for its batch (the prefetcher had not finished it).
        public var loadSeconds: Double

        enum CodingKeys: String, CodingKey {
            case step, stage, epoch, batchIndex = "batch_index", learningRate = "lr", loss, nll, accuracy
            case scaleAccuracy = "scale_accuracy", frameAccuracy = "frame_accuracy", gradNorm = "grad_norm", flipped
            case bucket, frames, clips, tokens, tokensPerSecond = "tokens_per_second", seconds
            case loadSeconds = "load_seconds"
        }
    }

    /// One line of `eval.jsonl`: held-out bitwise NLL and accuracy, with the baselines on the same bits.
    public struct EvalRecord: Codable, Sendable {
        public var step: Int
        public var stage: String
        public var nll: Double
        public var accuracy: Double
        public var scaleNLL: [Double]
        public var scaleAccuracy: [Double]
        /// The same model and bits with every caption replaced by the empty condition: how much
        /// the captions help.
        public var unconditionalNLL: Double
        public var marginalNLL: Double?
        public var copyNLL: Double?
        public var clips: Int

        enum CodingKeys: String, CodingKey {
            case step, stage, nll, accuracy, scaleNLL = "scale_nll", scaleAccuracy = "scale_accuracy"
            case unconditionalNLL = "unconditional_nll", marginalNLL = "marginal_nll", copyNLL = "copy_nll", clips
        }
    }

    struct State: Codable {
        var step: Int
        var position: Position
        var rng: SplitMix64
        var generator: [UInt8]
        var optimizerSteps: [Int]
        var tokenizerID: String?
        var configuration: ModelTrainingConfiguration
    }

    /// Opens (or, with `resume`, continues) the run in `runDirectory` over the catalog in the
    /// configuration's data folder.
    public init(configuration: ModelTrainingConfiguration, runDirectory: String, resume: Bool, logger: Logger) throws {
        try configuration.validate()
        self.configuration = configuration
        self.logger = logger
        run = RunFolder(runDirectory)
        let latest: String?
        do { latest = try run.open(resume: resume) } catch let error as RunError {
            throw TrainerError(.checkpoint, error.message, cause: error.cause)
        }
        let catalogPath = configuration.dataFolder + "/catalog.sqlite"
        guard FileManager.default.fileExists(atPath: catalogPath) else {
            throw TrainerError(
                .data,
                "no catalog at \(catalogPath): ingest videos first (`videoar ingest FOLDER`) or set data_folder")
        }
        let catalog = try Catalog(path: catalogPath)
        dataset = ShardDataset(
            catalog: catalog, dataFolder: configuration.dataFolder, heldOut: configuration.heldOut, logger: logger)
        model = try VideoARTransformer(configuration.model)
        optimizer = try Self.makeOptimizer(model, configuration, learningRate: configuration.stages[0].learningRate)
        rng = SplitMix64(seed: configuration.seed)
        generator = Generator(seed: configuration.seed &+ 1)
        if let latest { try restore(latest) }
        model.setTrainable(true)
    }

    /// Which held-out clips an evaluation reads (the first `evaluation.batches` batches of this
    /// plan), the same for every run. 0, so runs with seed 0 kept their evaluation set.
    static let heldOutSeed: UInt64 = 0

    static func makeOptimizer(_ model: VideoARTransformer, _ c: ModelTrainingConfiguration, learningRate: Double) throws
        -> AdamW
    {
        try AdamW(
            groups: AdamW.decayGroups(model.namedParameters(), weightDecay: c.optimizer.weightDecay),
            AdamW.Configuration(learningRate: learningRate, beta1: c.optimizer.beta1, beta2: c.optimizer.beta2))
    }

    public var parameterCount: Int { model.parameterCount }
    public var nextStep: Int { step }

    // MARK: - The loop

    /// Trains until every stage is done, `until` steps are complete, or `shouldStop` returns
    /// true (checked after every step; a checkpoint is written before returning).
    public func run(
        until: Int? = nil, printEvery: Int = 10, progress: (String) -> Void = { _ in },
        shouldStop: () -> Bool = { false }
    ) throws -> Outcome {
        let total = configuration.totalSteps
        let end = min(total, until ?? total)
        try run.trimLog(after: step)
        try run.trimLog(after: step, file: "eval.jsonl")
        let log = try JSONLinesWriter(path: run.logPath)
        let evalLog = try JSONLinesWriter(path: run.path + "/eval.jsonl")
        defer { prefetcher?.cancel() }
        var recent: [StepRecord] = []
        if step < end { try checkMemory() }
        while step < end {
            guard let (stageIndex, stageStep) = configuration.stage(at: step) else { break }
            if stageIndex != position.stage {
                position = Position(stage: stageIndex, epoch: 0, batch: 0)
                closePlan()
                logger.info(
                    "stage starts from the previous stage's weights",
                    metadata: ["stage": "\(configuration.stages[stageIndex].name)"])
            }
            let stage = configuration.stages[stageIndex]
            if prefetcher == nil { try openPlan() }
            let waitStarted = Date()
            guard let item = try prefetcher!.next() else {  // the epoch is over
                position = Position(stage: position.stage, epoch: position.epoch + 1, batch: 0)
                closePlan()
                continue
            }
            let wait = Date().timeIntervalSince(waitStarted)
            position.batch = item.index + 1
            guard let batch = item.batch else {
                logger.warning(
                    "batch skipped: every clip of it is in a skipped shard", metadata: ["batch": "\(item.index)"])
                continue
            }
            var record = try trainStep(batch, stage: stage, stageStep: stageStep)
            record.batchIndex = item.index
            record.loadSeconds = wait
            step += 1
            try log.append(record)
            recent.append(record)
            if recent.count > 20 { recent.removeFirst() }
            if step % printEvery == 0 || step == end {
                progress(Self.consoleLine(record, total: total, recent: recent, remaining: end - step))
            }
            let stageEnds = configuration.stage(at: step)?.index != stageIndex
            let stop = shouldStop()
            let every = configuration.evaluation.every
            if (every > 0 && step % every == 0) || stageEnds || step == end || stop {
                if let evaluation = try evaluate(stage: stageIndex) {
                    try evalLog.append(evaluation)
                    progress(Self.consoleLine(evaluation))
                }
            }
            if stop || step % configuration.checkpointEvery == 0 || stageEnds || step == end { try saveCheckpoint() }
            if stop {
                logger.info("training stopped on request; resumable", metadata: ["step": "\(step)"])
                return .paused(step: step)
            }
        }
        guard step >= total else { return .paused(step: step) }
        let path = run.path + "/model.safetensors"
        try model.save(
            to: path,
            metadata: ["videoar.training.steps": "\(step)", "videoar.tokenizer.id": tokenizerID ?? ""])
        return .finished(path: path)
    }

    private func trainStep(_ batch: TokenBatch, stage: ModelTrainingConfiguration.Stage, stageStep: Int) throws
        -> StepRecord
    {
        let started = Date()
        try check(batch)
        let lr = stage.schedule.rate(at: stageStep)
        try optimizer.setLearningRate(lr)
        let layout = SequenceLayout(frames: batch.layout.latentFrames, schedule: batch.schedule)
        let b = batch.count, frames = layout.frames, scales = layout.scalesPerFrame
        // Random draws in a fixed order: flip ratios, caption dropout, frame mask.
        let ratios =
            configuration.corruption.enabled
            ? configuration.corruption.ratios(batch: b, frames: frames, scales: scales, using: &rng) : nil
        let captions = batch.captions.map { rng.unit() < configuration.captionDropout ? nil : $0 }
        let mask =
            configuration.frameMask.enabled && frames > 1
            ? try layout.frameMask(configuration.frameMask.draw(batch: b, frames: frames, using: &rng)) : nil

        let forcing = try TeacherForcing(codes: batch.codes)(
            bits: batch.bits, ratios: ratios, generator: generator)
        let condition = try model.captions(captions)
        let logits = try model(inputs: forcing.inputs, condition: condition, layout: layout, mask: mask)
        let loss = try bitLoss(layout)
        let value = try loss.loss(logits: logits, targets: forcing.targets)
        try optimizer.zeroGrad()
        try value.backward()
        let norm =
            configuration.optimizer.clipNorm > 0
            ? try clipGradientNorm(optimizer.parameters, maxNorm: configuration.optimizer.clipNorm) : 0
        try optimizer.step()
        let metrics = try loss.metrics(logits: logits, targets: forcing.targets)
        let seconds = Date().timeIntervalSince(started)
        return StepRecord(
            step: step + 1, stage: stage.name, epoch: position.epoch, batchIndex: 0, learningRate: lr,
            loss: try value.item(), nll: metrics.nll, accuracy: metrics.accuracy, scaleAccuracy: metrics.scaleAccuracy,
            frameAccuracy: metrics.frameAccuracy, gradNorm: norm, flipped: forcing.flipped,
            bucket: batch.layout.bucket, frames: batch.layout.frames, clips: b, tokens: b * layout.count,
            tokensPerSecond: Double(b * layout.count) / seconds, seconds: seconds, loadSeconds: 0)
    }

    /// The batch's tokens must fit the model and come from the run's one tokenizer.
    private func check(_ batch: TokenBatch) throws {
        guard batch.layout.bitsPerToken == configuration.model.bitsPerToken else {
            throw TrainerError(
                .data,
                "shard \(batch.rows[0].shardPath) has \(batch.layout.bitsPerToken) bits per token; the model predicts \(configuration.model.bitsPerToken) (set model.bits_per_token)"
            )
        }
        if let tokenizerID, tokenizerID != batch.layout.tokenizerID {
            throw TrainerError(
                .data,
                "this run trains on tokens of tokenizer \(tokenizerID); shard \(batch.rows[0].shardPath) holds \(batch.layout.tokenizerID)'s (add `tokenizer: \(tokenizerID)` to the stage's queries)"
            )
        }
        tokenizerID = batch.layout.tokenizerID
    }

    private func bitLoss(_ layout: SequenceLayout) throws -> BitLoss {
        let key = "\(layout.frames)|\(layout.schedule)"
        if let cached = losses[key] { return cached }
        let made = try BitLoss(layout: layout, scheme: configuration.loss.scheme)
        losses[key] = made
        return made
    }

    // MARK: - Plans

    private var planPath: String { run.path + "/plans/stage-\(position.stage)-epoch-\(position.epoch).json" }

    /// The current epoch's plan: read back when a resumed run left one, else made from the
    /// catalog now (so shards sealed since the last epoch join this one) and saved.
    private func openPlan() throws {
        let stage = configuration.stages[position.stage]
        let plan: EpochPlan
        var saved = FileManager.default.contents(atPath: planPath).flatMap {
            try? JSONDecoder().decode(EpochPlan.self, from: $0)
        }
        if let stale = saved, stale.queries != DataQuery.fingerprint(stage.data) {
            // Resuming with other queries (say, a new `latent_frames`): the saved clips are not what was asked for.
            logger.warning(
                "the stage's queries changed since this epoch was planned: planning it again from its first batch",
                metadata: ["stage": "\(stage.name)", "epoch": "\(position.epoch)", "skipped batch": "\(position.batch)"])
            saved = nil
            position.batch = 0
        }
        if let saved {
            plan = saved
        } else {
            plan = try dataset.plan(
                stage.data, globalBatch: stage.batch, seed: configuration.seed, stage: position.stage,
                epoch: position.epoch)
            guard !plan.batches.isEmpty else {
                throw TrainerError(
                    .data,
                    "stage \(stage.name): its queries (\(stage.data.map(\.summary).joined(separator: "; "))) match no training clips in \(configuration.dataFolder); check `videoar query`, or lower held_out.fraction"
                )
            }
            let folder = run.path + "/plans"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for old in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] {
                try? FileManager.default.removeItem(atPath: folder + "/" + old)
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            try Array(encoder.encode(plan)).withUnsafeBytes { try AtomicFile.write($0, to: planPath) }
            logger.info(
                "epoch planned",
                metadata: [
                    "stage": "\(stage.name)", "epoch": "\(position.epoch)", "clips": "\(plan.clips.count)",
                    "batches": "\(plan.batches.count)",
                ])
        }
        prefetcher = BatchPrefetcher(dataset: dataset, plan: plan, start: position.batch)
    }

    /// Refuses, before any step, a stage whose largest clips cannot fit in this machine's
    /// memory (attention is dense over a clip, so memory grows with its tokens squared): hours
    /// into a run, stage II being killed by the kernel loses the time; this names the fix.
    private func checkMemory() throws {
        let physical = Double(ProcessInfo.processInfo.physicalMemory)
        for index in position.stage..<configuration.stages.count {
            let stage = configuration.stages[index]
            guard let largest = try dataset.clipTokens(stage.data).first else { continue }
            let bytes = configuration.model.trainingStepBytes(batch: stage.batch, tokens: largest.tokens)
            let gib = { (b: Double) in String(format: "%.1f GiB", b / Double(1 << 30)) }
            logger.info(
                "stage memory",
                metadata: [
                    "stage": "\(stage.name)", "largest clips": "\(largest.layout), \(largest.tokens) tokens",
                    "step needs about": "\(gib(bytes))",
                ])
            guard bytes > 0.9 * physical else { continue }
            throw TrainerError(
                .configuration,
                "stage \(stage.name): its largest clips (\(largest.layout)) are \(largest.tokens) tokens each; a step of \(stage.batch) needs about \(gib(bytes)) (attention grows with tokens²) and this machine has \(gib(physical)). Lower stages[\(index)].batch, add `latent_frames: n` to its queries (train on the first n latent frames of each clip), or query a smaller size"
            )
        }
    }

    private func closePlan() {
        prefetcher?.cancel()
        prefetcher = nil
    }

    // MARK: - Evaluation

    /// Held-out bitwise NLL and accuracy per scale on the stage's held-out clips (the same
    /// batches every time), with the two baselines on the same bits. Nil without held-out clips.
    /// `rewrite` changes each caption first (e.g. to paraphrases, to see what the caption encoder generalises to).
    public func evaluate(stage index: Int, rewrite: ((String) -> String)? = nil) throws -> EvalRecord? {
        let stage = configuration.stages[index]
        if heldOut[index] == nil {
            // Seeded apart from the run's seed: runs with different seeds are scored on the same clips.
            let plan = try dataset.plan(
                stage.data, globalBatch: stage.batch, seed: Self.heldOutSeed, stage: index, epoch: 0, split: .heldOut)
            heldOut[index] = try plan.batches.indices.prefix(configuration.evaluation.batches).compactMap {
                try dataset.load(plan.slice($0))
            }
            if heldOut[index]!.isEmpty {
                logger.warning(
                    "no held-out clips for this stage: evaluation skipped (more sources, or a larger held_out.fraction)",
                    metadata: ["stage": "\(stage.name)"])
            }
            var fitted = Baselines()
            let training = try dataset.plan(
                stage.data, globalBatch: stage.batch, seed: configuration.seed, stage: index, epoch: 0)
            for i in training.batches.indices.prefix(64) {
                if let batch = try dataset.load(training.slice(i)) { try fitted.fit(batch) }
            }
            baselines[index] = fitted
        }
        let batches = heldOut[index]!
        guard !batches.isEmpty else { return nil }
        var bits = 0.0, nll = 0.0, unconditional = 0.0, correct = 0.0, marginal = 0.0, copy = 0.0, scored = 0.0
        var clips = 0
        var scaleNLL: [Double] = [], scaleAccuracy: [Double] = [], scaleWeight = 0.0
        try withoutGrad {
            for batch in batches {
                try check(batch)
                let layout = SequenceLayout(frames: batch.layout.latentFrames, schedule: batch.schedule)
                let forcing = try TeacherForcing(codes: batch.codes)(
                    bits: batch.bits, ratios: nil, generator: generator)
                let captions = rewrite.map { f in batch.captions.map { $0.map(f) } } ?? batch.captions
                let logits = try model(inputs: forcing.inputs, condition: model.captions(captions), layout: layout)
                let m = try bitLoss(layout).metrics(logits: logits, targets: forcing.targets)
                let empty = try model(
                    inputs: forcing.inputs, condition: model.captions(batch.captions.map { _ in nil }), layout: layout)
                let n = Double(batch.bits.count)
                bits += n
                nll += m.nll * n
                unconditional += try bitLoss(layout).metrics(logits: empty, targets: forcing.targets).nll * n
                correct += m.accuracy * n
                clips += batch.count
                if scaleNLL.isEmpty || scaleNLL.count == m.scaleNLL.count {
                    if scaleNLL.isEmpty {
                        scaleNLL = Array(repeating: 0, count: m.scaleNLL.count)
                        scaleAccuracy = scaleNLL
                    }
                    for k in scaleNLL.indices {
                        scaleNLL[k] += m.scaleNLL[k] * n
                        scaleAccuracy[k] += m.scaleAccuracy[k] * n
                    }
                    scaleWeight += n
                }
                if let score = try baselines[index]!.score(batch) {
                    marginal += score.marginal * n
                    copy += score.copy * n
                    scored += n
                }
            }
        }
        return EvalRecord(
            step: step, stage: stage.name, nll: nll / bits, accuracy: correct / bits,
            scaleNLL: scaleNLL.map { $0 / scaleWeight }, scaleAccuracy: scaleAccuracy.map { $0 / scaleWeight },
            unconditionalNLL: unconditional / bits, marginalNLL: scored > 0 ? marginal / scored : nil,
            copyNLL: scored > 0 ? copy / scored : nil, clips: clips)
    }

    // MARK: - Console

    static func consoleLine(_ r: StepRecord, total: Int, recent: [StepRecord], remaining: Int) -> String {
        let secondsPerStep = recent.map(\.seconds).reduce(0, +) / Double(max(recent.count, 1))
        let tokensPerSecond = recent.map(\.tokensPerSecond).reduce(0, +) / Double(max(recent.count, 1))
        let eta = Int(secondsPerStep * Double(remaining))
        let scales = r.scaleAccuracy.map { String(format: "%.0f", $0 * 100) }.joined(separator: " ")
        return String(
            format:
                "step %d/%d [%@ e%d] loss %.4f  nll %.4f  acc %.1f%% (scales %@)  lr %.1e  |g| %.2f  %.2f s/step  %.0f tok/s  eta %dh%02dm",
            r.step, total, r.stage, r.epoch, r.loss, r.nll, r.accuracy * 100, scales, r.learningRate, r.gradNorm,
            secondsPerStep, tokensPerSecond, eta / 3600, (eta % 3600) / 60)
    }

    static func consoleLine(_ e: EvalRecord) -> String {
        var line = String(
            format: "  held-out @%d [%@]: nll %.4f nats/bit, acc %.1f%% over %d clips", e.step, e.stage, e.nll,
            e.accuracy * 100, e.clips)
        if let m = e.marginalNLL, let c = e.copyNLL {
            line += String(format: "  | baselines: marginal %.4f, copy-previous-frame %.4f", m, c)
        }
        return line
    }

    // MARK: - Checkpoints

    private func saveCheckpoint() throws {
        var moments: [String: Tensor] = [:]
        let steps = try optimizer.checkpoint(prefix: "model", into: &moments)
        let state = State(
            step: step, position: position, rng: rng, generator: generator.state, optimizerSteps: steps,
            tokenizerID: tokenizerID, configuration: configuration)
        try run.saveCheckpoint(step: step, state: state) { folder in
            try model.save(
                to: folder + "/model.safetensors",
                metadata: ["videoar.training.steps": "\(step)", "videoar.tokenizer.id": tokenizerID ?? ""])
            try SafeTensors.write(moments, to: folder + "/optimizer.safetensors")
        }
        logger.debug("checkpoint written", metadata: ["step": "\(step)"])
    }

    private func restore(_ folder: String) throws {
        let state = try run.loadState(State.self, from: folder)
        if state.configuration.model != configuration.model {
            throw TrainerError(
                .checkpoint,
                "\(folder) was trained with a different model layout; resume with the run's own configuration")
        }
        if state.configuration != configuration {
            logger.warning(
                "the configuration changed since this checkpoint; continuing with the new one",
                metadata: ["checkpoint": "\(folder)"])
        }
        do {
            try model.load(try SafeTensors.read(folder + "/model.safetensors").tensors)
        } catch {
            throw TrainerError(.checkpoint, "cannot restore the model from \(folder)", cause: "\(error)")
        }
        optimizer = try Self.makeOptimizer(model, configuration, learningRate: configuration.stages[0].learningRate)
        let moments = try SafeTensors.read(folder + "/optimizer.safetensors").tensors
        do {
            try optimizer.restore(prefix: "model", from: moments, steps: state.optimizerSteps, checkpoint: folder)
        } catch is RunError where moments.keys.contains("model.0.exp_avg") {
            // Checkpoints keyed by index from before embedding tables matched case-insensitively
            // (`scaleEmbedding` was then in the decayed group, which shifted every index after it).
            let legacy = AdamW.decayGroups(
                model.namedParameters(), weightDecay: 0, isEmbedding: { $0.contains("embedding") })
            try optimizer.restore(
                prefix: "model", from: moments, steps: state.optimizerSteps, checkpoint: folder,
                legacyOrder: legacy.flatMap { $0.names ?? [] })
        }
        try generator.restore(state.generator)
        step = state.step
        position = state.position
        rng = state.rng
        tokenizerID = state.tokenizerID
        logger.info("resumed", metadata: ["checkpoint": "\(folder)", "step": "\(step)"])
    }
}
