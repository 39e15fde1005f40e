import AtomicFiles
import Foundation
import Logging
import Tensor
import Tokenizer
import TrainingRun
import VideoIO

/// Trains a tokenizer through its configured stages (method §2): the image model on
/// single pictures, then the inflated video model on clips, with L1, SSIM, commitment,
/// BSQ entropy and (from `gan_start`) hinge-GAN + LeCAM losses.
///
/// Everything needed to continue lives in the run folder: `checkpoints/step-N/` (weights as
/// safetensors, optimiser moments as safetensors, step/RNG/EMA state as JSON, with `ema_decay`
/// the averaged weights as `tokenizer.ema.safetensors`), `latest`
/// naming the newest complete checkpoint, `log.jsonl` (one record per step) and
/// `previews/`. A resumed run draws the same batches and restores the optimiser, so it
/// continues where the interrupted one would have gone.
public final class TokenizerTrainer {
    public let configuration: TokenizerTrainingConfiguration
    public let runDirectory: String
    private let run: RunFolder
    private let logger: Logger
    private let data: TrainingFrames

    private var tokenizer: Tokenizer
    private let discriminator: PatchDiscriminator
    private var tokenizerOptimizer: AdamW
    private let discriminatorOptimizer: AdamW
    private var rng: SplitMix64
    private(set) var step = 0
    private var emaReal = 0.0
    private var emaFake = 0.0
    /// The averaged weights (`ema_decay`), updated after every tokenizer step.
    private var average: ParameterAverage?

    /// How a call to `run` ended.
    public enum Outcome: Equatable, Sendable {
        /// Every stage done; the trained tokenizer is at `path`.
        case finished(path: String)
        /// Stopped at the requested step or on a stop request; resumable from `step`.
        case paused(step: Int)
    }

    /// What one step measured (one line of `log.jsonl`).
    public struct StepRecord: Codable, Sendable {
        public var step: Int
        public var stage: String
        public var learningRate: Double
        public var loss: Double
        public var l1: Double
        public var ssim: Double
        public var commitment: Double
        public var entropyPerSample: Double
        public var entropyCodebook: Double
        public var ganGenerator: Double?
        public var discriminator: Double?
        public var lecam: Double?
        public var psnr: Double
        public var bitMeans: [Double]
        public var bitEntropy: Double
        public var batch: [Int]
        public var seconds: Double

        enum CodingKeys: String, CodingKey {
            case step, stage, learningRate = "lr", loss, l1, ssim, commitment, entropyPerSample = "entropy_per_sample"
            case entropyCodebook = "entropy_codebook", ganGenerator = "gan_g", discriminator = "disc", lecam, psnr
            case bitMeans = "bit_means", bitEntropy = "bit_entropy", batch, seconds
        }
    }

    /// Opens (or, with `resume`, continues) the run in `runDirectory`, decoding the training data.
    public init(configuration: TokenizerTrainingConfiguration, runDirectory: String, resume: Bool, logger: Logger)
        throws
    {
        try configuration.validate()
        self.configuration = configuration
        self.runDirectory = runDirectory
        self.logger = logger
        run = RunFolder(runDirectory)
        let latest: String?
        do { latest = try run.open(resume: resume) } catch let error as RunError {
            throw TrainingError(.checkpoint, error.message, cause: error.cause)
        }
        // Said before the training data's minute of decoding, not after it.
        if latest == nil, let initial = configuration.initialWeights,
            !FileManager.default.isReadableFile(atPath: initial)
        {
            throw TrainingError(
                .checkpoint,
                "cannot read the initial weights \(initial): no such file (initial_weights; the training "
                    + "configuration's comments say how to make it)")
        }

        let started = Date()
        data = try TrainingFrames(
            configuration.data, fps: configuration.stages.flatMap { $0.kind == .video ? $0.fps : [] },
            logger: logger)
        logger.info(
            "training data decoded",
            metadata: [
                "stills": "\(data.stillCount)", "videos": "\(data.videoCount)",
                "video_frames": "\(data.videoFrameCount)",
                "skipped": "\(data.skipped.count)",
                "seconds": "\(String(format: "%.1f", Date().timeIntervalSince(started)))",
            ])

        let generator = Generator(seed: configuration.seed &+ 1)
        discriminator = try PatchDiscriminator(configuration.discriminator, generator: generator)
        rng = SplitMix64(seed: configuration.seed)

        var layout = configuration.tokenizer
        layout.temporalKernel = configuration.stages[0].kind == .image ? 1 : 3
        tokenizer = try Tokenizer(configuration: layout, logger: logger)
        if latest == nil, let initial = configuration.initialWeights {
            let seeded = try tokenizer.warmStart(from: initial)
            logger.info(
                "started from \(initial)",
                metadata: [
                    "copied": "\(tokenizer.namedParameters().count - seeded.count)", "seeded": "\(seeded.count)",
                    "seeded_parts":
                        "\(Set(seeded.map { $0.split(separator: ".").first.map(String.init) ?? $0 }).sorted())",
                ])
        }
        tokenizerOptimizer = try AdamW(tokenizer.parameters(), Self.adam(configuration, scale: 1))
        discriminatorOptimizer = try AdamW(
            discriminator.parameters(),
            Self.adam(configuration, scale: configuration.optimizer.discriminatorLearningRateScale))
        if let latest { try restore(latest) }
        if average == nil, let decay = configuration.emaDecay {
            average = try ParameterAverage(of: tokenizer, decay: decay)
            if latest != nil { logger.info("the weight average starts here", metadata: ["step": "\(step)"]) }
        }
        tokenizer.setTrainable(true)
    }

    static func adam(_ c: TokenizerTrainingConfiguration, scale: Double) -> AdamW.Configuration {
        AdamW.Configuration(
            learningRate: c.stages[0].learningRate * scale, beta1: c.optimizer.beta1, beta2: c.optimizer.beta2,
            weightDecay: c.optimizer.weightDecay)
    }

    /// The parameter count of the tokenizer being trained.
    public var tokenizerParameters: Int { tokenizer.parameterCount }
    /// The step the next call to `run` starts from.
    public var nextStep: Int { step }

    // MARK: - The loop

    /// Trains until every stage is done, `until` steps are complete, or `shouldStop`
    /// returns true (checked after every step; a checkpoint is written before returning).
    /// `progress` receives a readable line every `printEvery` steps.
    public func run(
        until: Int? = nil, printEvery: Int = 10, progress: (String) -> Void = { _ in },
        shouldStop: () -> Bool = { false }
    ) throws -> Outcome {
        let total = configuration.totalSteps
        let end = min(total, until ?? total)
        try self.run.trimLog(after: step)
        let log = try JSONLinesWriter(path: self.run.logPath)
        var recent: [Double] = []
        while step < end {
            guard let (stageIndex, stageStep) = configuration.stage(at: step) else { break }
            let stage = configuration.stages[stageIndex]
            if stageStep == 0, stage.kind == .video, tokenizer.configuration.temporalKernel == 1 { try inflate() }
            let record = try trainStep(stage: stage, stageStep: stageStep)
            step += 1
            try log.append(record)
            recent.append(record.seconds)
            if recent.count > 20 { recent.removeFirst() }
            if step % printEvery == 0 || step == end {
                progress(
                    Self.consoleLine(
                        record, total: total, secondsPerStep: recent.reduce(0, +) / Double(recent.count),
                        remaining: end - step))
            }
            let stageEnds = configuration.stage(at: step)?.index != stageIndex
            let stop = shouldStop()
            if stop || step % configuration.checkpointEvery == 0 || stageEnds || step == end { try saveCheckpoint() }
            if stop {
                logger.info("training stopped on request; resumable", metadata: ["step": "\(step)"])
                return .paused(step: step)
            }
        }
        guard step >= total else { return .paused(step: step) }
        let path = runDirectory + "/tokenizer.safetensors"
        var metadata = ["videoar.training.steps": "\(step)"]
        if let average {  // ship the average; keep the last step's weights beside it
            try tokenizer.save(to: runDirectory + "/tokenizer.last.safetensors", trained: true, metadata: metadata)
            metadata["videoar.training.ema_decay"] = "\(average.decay)"
        }
        try tokenizer.refreshIdentity(trained: true)
        try tokenizer.save(to: path, trained: true, weights: average?.values, metadata: metadata)
        return .finished(path: path)
    }

    private func inflate() throws {
        logger.info("inflating the image model into the video model", metadata: ["step": "\(step)"])
        tokenizer = try tokenizer.inflated(logger: logger)
        tokenizer.setTrainable(true)
        tokenizerOptimizer = try AdamW(tokenizer.parameters(), Self.adam(configuration, scale: 1))
        average = try configuration.emaDecay.map { try ParameterAverage(of: tokenizer, decay: $0) }
    }

    private func trainStep(stage: TokenizerTrainingConfiguration.Stage, stageStep: Int) throws -> StepRecord {
        let started = Date()
        let w = configuration.losses
        let lr = stage.learningRate(at: stageStep)
        try tokenizerOptimizer.setLearningRate(lr)
        try discriminatorOptimizer.setLearningRate(lr * configuration.optimizer.discriminatorLearningRateScale)

        let size = stage.sizes[Int.random(in: 0..<stage.sizes.count, using: &rng)]
        let aspect = stage.aspectRatios[Int.random(in: 0..<stage.aspectRatios.count, using: &rng)]
        let bucket = Bucket(size: size, aspect: aspect, multiple: tokenizer.configuration.spatialFactor)
        let x: Tensor  // [N, 3, T, H, W] in [−1, 1]
        switch stage.kind {
        case .image:
            x = try data.imageBatch(
                count: stage.batch, width: bucket.width, height: bucket.height,
                videoFraction: stage.videoFrameFraction, using: &rng)
        case .video:
            let fps = stage.fps[Int.random(in: 0..<stage.fps.count, using: &rng)]
            x = try data.clipBatch(
                count: stage.batch, frames: stage.frames, fps: fps, width: bucket.width,
                height: bucket.height, using: &rng)
        }
        let ganOn = w.gan > 0 && step >= w.ganStart

        // The tokenizer's update (the encoder's parameters get no gradient when it is frozen,
        // so AdamW leaves them untouched).
        tokenizer.setTrainable(true)
        tokenizer.setEncoderTrainable(stage.trainEncoder)
        discriminator.setTrainable(false)
        let pass = try tokenizer.trainingPass(x)
        let reconstruction = pass.reconstruction
        let l1 = try Loss.l1(reconstruction, x)
        let ssim = try ImageQuality.ssim(ImageQuality.frames(reconstruction), ImageQuality.frames(x), range: 2)
        let commitment = try Loss.mse(pass.quantizer.normalized, pass.quantizer.quantized.detached())
        let entropy = try EntropyPenalty(temperature: w.entropyTemperature, codebookWeight: w.codebookWeight)(
            pass.quantizer.inputs)
        var total = try l1 * w.l1 + (1 - ssim) * w.perceptual + commitment * w.commitment + entropy.loss * w.entropy
        if w.l2 > 0 { total = try total + Loss.mse(reconstruction, x) * w.l2 }
        var ganGenerator: Double? = nil
        if ganOn {
            let g = try -discriminator(reconstruction).mean()
            total = try total + g * w.gan
            ganGenerator = try g.item()
        }
        try tokenizerOptimizer.zeroGrad()
        try total.backward()
        try tokenizerOptimizer.step()
        try average?.update(from: tokenizer)

        // The discriminator's update: hinge loss + LeCAM against EMAs of its outputs.
        var discriminatorLoss: Double? = nil, lecamValue: Double? = nil
        if ganOn {
            discriminator.setTrainable(true)
            let real = try discriminator(x)
            let fake = try discriminator(reconstruction.detached())
            let hinge = try (1 - real).relu().mean() + (1 + fake).relu().mean()
            let lecam = try (real - emaFake).relu().pow(2).mean() + (emaReal - fake).relu().pow(2).mean()
            let loss = try hinge + lecam * w.lecam
            try discriminatorOptimizer.zeroGrad()
            try loss.backward()
            try discriminatorOptimizer.step()
            let d = w.lecamDecay
            emaReal = d * emaReal + (1 - d) * (try real.mean().item())
            emaFake = d * emaFake + (1 - d) * (try fake.mean().item())
            discriminatorLoss = try hinge.item()
            lecamValue = try lecam.item()
        }

        let usage = try BitUsage(pass.quantizer.bits)
        if configuration.previewEvery > 0, (step + 1) % configuration.previewEvery == 0 {
            try writePreview(original: x, reconstruction: reconstruction.detached())
        }
        return StepRecord(
            step: step + 1, stage: stage.name, learningRate: lr, loss: try total.item(), l1: try l1.item(),
            ssim: try ssim.item(), commitment: try commitment.item(), entropyPerSample: entropy.perSample,
            entropyCodebook: entropy.codebook, ganGenerator: ganGenerator, discriminator: discriminatorLoss,
            lecam: lecamValue,
            psnr: try ImageQuality.psnr8bit(reconstruction.detached(), x), bitMeans: usage.means,
            bitEntropy: usage.entropy,
            batch: x.shape, seconds: Date().timeIntervalSince(started))
    }

    static func consoleLine(_ r: StepRecord, total: Int, secondsPerStep: Double, remaining: Int) -> String {
        let eta = Int(secondsPerStep * Double(remaining))
        let bits = r.bitMeans.isEmpty ? "-" : String(format: "%.2f–%.2f", r.bitMeans.min()!, r.bitMeans.max()!)
        var line = String(
            format: "step %d/%d [%@] loss %.4f  l1 %.4f  ssim %.3f  psnr %.2f dB  bits %@ H %.3f  lr %.1e",
            r.step, total, r.stage, r.loss, r.l1, r.ssim, r.psnr, bits, r.bitEntropy, r.learningRate)
        if let d = r.discriminator, let g = r.ganGenerator { line += String(format: "  D %.3f G %.3f", d, g) }
        line += String(format: "  %.2f s/step  eta %dh%02dm", secondsPerStep, eta / 3600, (eta % 3600) / 60)
        return line
    }

    private func writePreview(original: Tensor, reconstruction: Tensor) throws {
        let a = try Tokenizer.denormalize(original.slice(dim: 0, 0..<1))  // [T, H, W, 3]
        let b = try Tokenizer.denormalize(reconstruction.slice(dim: 0, 0..<1))
        let s = a.shape
        let shown = Array(Set([0, s[0] / 2, s[0] - 1])).sorted()
        var pixels: [UInt8] = []
        for video in [a, b] {
            for t in shown { pixels += try video.select(dim: 0, t).contiguous().scalars(as: UInt8.self) }
        }
        let sheet = contactSheet(
            frames: pixels, count: shown.count * 2, width: s[2], height: s[1], columns: shown.count)
        let folder = runDirectory + "/previews"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try writePNG(
            rgb: sheet.rgb, width: sheet.width, height: sheet.height,
            to: folder + String(format: "/step-%07d.png", step + 1))
    }

    // MARK: - Checkpoints

    struct State: Codable {
        var step: Int
        var temporalKernel: Int
        var rng: SplitMix64
        var emaReal: Double
        var emaFake: Double
        var tokenizerOptimizerSteps: [Int]
        var discriminatorOptimizerSteps: [Int]
        var configuration: TokenizerTrainingConfiguration
    }

    /// The averaged weights in a checkpoint folder (with `ema_decay`).
    static let averageFile = "tokenizer.ema.safetensors"

    private func saveCheckpoint() throws {
        var moments: [String: Tensor] = [:]
        let tokenizerSteps = try tokenizerOptimizer.checkpoint(prefix: "tokenizer", into: &moments)
        let discriminatorSteps = try discriminatorOptimizer.checkpoint(prefix: "discriminator", into: &moments)
        let state = State(
            step: step, temporalKernel: tokenizer.configuration.temporalKernel, rng: rng, emaReal: emaReal,
            emaFake: emaFake, tokenizerOptimizerSteps: tokenizerSteps,
            discriminatorOptimizerSteps: discriminatorSteps, configuration: configuration)
        try run.saveCheckpoint(step: step, state: state) { folder in
            try tokenizer.save(
                to: folder + "/tokenizer.safetensors", trained: true, metadata: ["videoar.training.steps": "\(step)"])
            try SafeTensors.write(
                Dictionary(uniqueKeysWithValues: discriminator.namedParameters().map { ($0.name, $0.tensor) }),
                to: folder + "/discriminator.safetensors")
            try SafeTensors.write(moments, to: folder + "/optimizer.safetensors")
            if let average {  // a complete tokenizer file: `tokenizer eval` reads it as is
                try tokenizer.save(
                    to: folder + "/" + Self.averageFile, trained: true, weights: average.values,
                    metadata: ["videoar.training.steps": "\(step)", "videoar.training.ema_decay": "\(average.decay)"])
            }
        }
        logger.debug("checkpoint written", metadata: ["step": "\(step)"])
    }

    private func restore(_ folder: String) throws {
        let state = try run.loadState(State.self, from: folder)
        if state.configuration.stages != configuration.stages
            || state.configuration.tokenizer != configuration.tokenizer
        {
            logger.warning(
                "the configuration changed since this checkpoint; continuing with the new one",
                metadata: ["checkpoint": "\(folder)"])
        }
        tokenizer = try Tokenizer(checkpoint: folder + "/tokenizer.safetensors", logger: logger)
        do {
            try discriminator.load(try SafeTensors.read(folder + "/discriminator.safetensors").tensors)
        } catch {
            throw TrainingError(.checkpoint, "cannot restore the discriminator from \(folder)", cause: "\(error)")
        }
        tokenizerOptimizer = try AdamW(tokenizer.parameters(), Self.adam(configuration, scale: 1))
        let moments = try SafeTensors.read(folder + "/optimizer.safetensors").tensors
        try tokenizerOptimizer.restore(
            prefix: "tokenizer", from: moments, steps: state.tokenizerOptimizerSteps, checkpoint: folder)
        try discriminatorOptimizer.restore(
            prefix: "discriminator", from: moments, steps: state.discriminatorOptimizerSteps, checkpoint: folder)
        step = state.step
        rng = state.rng
        emaReal = state.emaReal
        emaFake = state.emaFake
        let averageFile = folder + "/" + Self.averageFile
        if let decay = configuration.emaDecay, FileManager.default.fileExists(atPath: averageFile) {
            do {
                average = try ParameterAverage(
                    restoring: try SafeTensors.read(averageFile).tensors, for: tokenizer, decay: decay)
            } catch {
                throw TrainingError(
                    .checkpoint, "cannot restore the weight average from \(averageFile)", cause: "\(error)")
            }
        }
        logger.info("resumed", metadata: ["checkpoint": "\(folder)", "step": "\(step)"])
    }
}
