import ConfigCoding
import Diagnostics
import Model
import TokenDataset
import TrainingRun

/// How to train the transformer: the model layout, the data folder, the stages (each a list
/// of catalog queries) and every knob of the method's stability techniques, each switchable
/// off for ablations. Decoded from `Configs/model/*.yaml`; every key has a default.
public struct ModelTrainingConfiguration: Sendable, Equatable, ConfigurationSection {
    public var model: ModelConfiguration
    /// The data folder of `videoar serve` / `ingest` (catalog.sqlite + shards/).
    public var dataFolder: String
    /// Whose tokens to train on, for every query that names no `tokenizer`: a checkpoint
    /// (.safetensors), a layout (.yaml, its seeded initialisation), or `any` (the first
    /// clip's tokenizer decides). nil: the shipped default tokenizer — what `serve` and
    /// `ingest` use unless configured otherwise. Resolved to an id by the program (see
    /// `pinning(tokenizer:)`).
    public var tokenizer: String?
    /// Run in order; each starts from the previous stage's weights (and optimiser state).
    public var stages: [Stage]
    public var heldOut: HeldOutSplit
    public var optimizer: Optimizer
    public var loss: LossWeighting
    public var corruption: Corruption
    public var frameMask: FrameMask
    /// Probability of training a clip unconditionally (its caption replaced by the learned
    /// empty condition), so classifier-free guidance has an unconditional model.
    public var captionDropout: Double
    public var evaluation: Evaluation
    /// Save a resumable checkpoint every this many steps (and at stage ends and on SIGINT).
    public var checkpointEvery: Int
    /// LibTorch intra-op threads; 0 = every core (applied by the program, process-wide).
    public var threads: Int
    public var seed: UInt64

    public init(
        model: ModelConfiguration = ModelConfiguration(), dataFolder: String = "data", tokenizer: String? = nil,
        stages: [Stage] = [Stage()], heldOut: HeldOutSplit = HeldOutSplit(), optimizer: Optimizer = Optimizer(),
        loss: LossWeighting = LossWeighting(), corruption: Corruption = Corruption(),
        frameMask: FrameMask = FrameMask(),
        captionDropout: Double = 0.1, evaluation: Evaluation = Evaluation(), checkpointEvery: Int = 100,
        threads: Int = 0, seed: UInt64 = 0
    ) {
        self.model = model
        self.dataFolder = dataFolder
        self.tokenizer = tokenizer
        self.stages = stages
        self.heldOut = heldOut
        self.optimizer = optimizer
        self.loss = loss
        self.corruption = corruption
        self.frameMask = frameMask
        self.captionDropout = captionDropout
        self.evaluation = evaluation
        self.checkpointEvery = checkpointEvery
        self.threads = threads
        self.seed = seed
    }

    /// This configuration with every query that names no tokenizer restricted to `id`.
    public func pinning(tokenizer id: String) -> Self {
        var pinned = self
        for s in pinned.stages.indices {
            for q in pinned.stages[s].data.indices where pinned.stages[s].data[q].tokenizer == nil {
                pinned.stages[s].data[q].tokenizer = id
            }
        }
        return pinned
    }

    public static var defaults: Self { Self() }
    public static var keys: [ConfigurationKey<Self>] {
        [
            .init("model", \.model), .init("data_folder", \.dataFolder), .init("tokenizer", \.tokenizer),
            .init("stages", \.stages),
            .init("held_out", \.heldOut), .init("optimizer", \.optimizer), .init("loss", \.loss),
            .init("corruption", \.corruption), .init("frame_mask", \.frameMask),
            .init("caption_dropout", \.captionDropout), .init("evaluation", \.evaluation),
            .init("checkpoint_every", \.checkpointEvery), .init("threads", \.threads), .init("seed", \.seed),
        ]
    }

    public var totalSteps: Int { stages.reduce(0) { $0 + $1.steps } }

    /// The stage that step `step` (0-based, over the whole run) belongs to, and the step within it.
    public func stage(at step: Int) -> (index: Int, step: Int)? {
        var start = 0
        for (i, stage) in stages.enumerated() {
            if step < start + stage.steps { return (i, step - start) }
            start += stage.steps
        }
        return nil
    }

    public func validate() throws {
        func fail(_ m: String) -> TrainerError { TrainerError(.configuration, m) }
        try model.validate()
        guard !stages.isEmpty else { throw fail("stages: at least one stage is needed") }
        for (i, s) in stages.enumerated() {
            guard s.steps > 0, s.batch > 0 else { throw fail("stages[\(i)]: steps and batch must be positive") }
            guard !s.data.isEmpty else { throw fail("stages[\(i)].data: at least one query is needed") }
            guard s.data.allSatisfy({ $0.weight > 0 }) else {
                throw fail("stages[\(i)].data: weights must be positive")
            }
            if let q = s.data.firstIndex(where: { ($0.latentFrames ?? 1) < 1 }) {
                throw fail("stages[\(i)].data[\(q)].latent_frames must be at least 1 (the key frame)")
            }
            guard s.learningRate > 0, s.minLearningRate >= 0, s.warmupSteps >= 0 else {
                throw fail("stages[\(i)]: learning rates must be positive and warmup_steps ≥ 0")
            }
        }
        guard heldOut.fraction >= 0, heldOut.fraction < 1 else { throw fail("held_out.fraction must be in [0, 1)") }
        guard (0...1).contains(captionDropout) else { throw fail("caption_dropout must be in [0, 1]") }
        guard corruption.minRatio >= 0, corruption.maxRatio >= corruption.minRatio, corruption.maxRatio < 1,
            corruption.perFrame >= 0
        else {
            throw fail("corruption: need 0 ≤ min_ratio ≤ max_ratio < 1 and per_frame ≥ 0")
        }
        guard frameMask.window >= 0, (0..<1).contains(frameMask.probability) else {
            throw fail("frame_mask: window must be ≥ 0 and probability in [0, 1)")
        }
        guard checkpointEvery > 0, evaluation.every >= 0, evaluation.batches > 0 else {
            throw fail("checkpoint_every and evaluation.batches must be positive, evaluation.every ≥ 0")
        }
        guard threads >= 0 else { throw fail("threads must be ≥ 0") }
    }

    /// One stage: what it trains on (catalog queries) and for how long.
    public struct Stage: Sendable, Equatable, ConfigurationSection {
        public var name: String
        public var data: [DataQuery]
        public var steps: Int
        /// Clips per step (the global batch; ranks split it).
        public var batch: Int
        public var learningRate: Double
        public var warmupSteps: Int
        public var minLearningRate: Double

        public init(
            name: String = "I", data: [DataQuery] = [DataQuery(size: 128)], steps: Int = 500, batch: Int = 8,
            learningRate: Double = 1e-3, warmupSteps: Int = 50, minLearningRate: Double = 1e-4
        ) {
            self.name = name
            self.data = data
            self.steps = steps
            self.batch = batch
            self.learningRate = learningRate
            self.warmupSteps = warmupSteps
            self.minLearningRate = minLearningRate
        }

        public static var defaults: Self { Self() }
        public static var keys: [ConfigurationKey<Self>] {
            [
                .init("name", \.name), .init("data", \.data), .init("steps", \.steps), .init("batch", \.batch),
                .init("learning_rate", \.learningRate), .init("warmup_steps", \.warmupSteps),
                .init("min_learning_rate", \.minLearningRate),
            ]
        }

        public var schedule: LearningRateSchedule {
            LearningRateSchedule(peak: learningRate, warmupSteps: warmupSteps, floor: minLearningRate, steps: steps)
        }
    }

    /// AdamW (method §3): β = (0.9, 0.95), weight decay 0.05 on matrices only, gradient clipping.
    public struct Optimizer: Sendable, Equatable, ConfigurationSection {
        public var beta1: Double
        public var beta2: Double
        public var weightDecay: Double
        /// Clip the gradients' joint norm to this (0: no clipping).
        public var clipNorm: Double

        public init(beta1: Double = 0.9, beta2: Double = 0.95, weightDecay: Double = 0.05, clipNorm: Double = 1) {
            self.beta1 = beta1
            self.beta2 = beta2
            self.weightDecay = weightDecay
            self.clipNorm = clipNorm
        }

        public static var defaults: Self { Self() }
        public static var keys: [ConfigurationKey<Self>] {
            [
                .init("beta1", \.beta1), .init("beta2", \.beta2), .init("weight_decay", \.weightDecay),
                .init("clip_norm", \.clipNorm),
            ]
        }
    }

    /// How the scales share the loss.
    public struct LossWeighting: Sendable, Equatable, ConfigurationSection {
        public enum Scheme: String, Sendable, Codable {
            /// Every token counts the same: the finest scale dominates.
            case tokens
            /// Scale k weighs ∝ √(h_k·w_k) (each token ∝ 1/√(h_k·w_k), Infinity's reweighting).
            case sqrt
            /// Every scale counts the same.
            case scales
        }
        public var scheme: Scheme

        public init(scheme: Scheme = .sqrt) { self.scheme = scheme }

        public static var defaults: Self { Self() }
        public static var keys: [ConfigurationKey<Self>] { [.init("scheme", \.scheme)] }
    }

    /// Bitwise self-correction with Cross-Frame Error Correction (method §4): the input bits of
    /// scale k of frame t are flipped with a ratio drawn from U(min + per_frame·t, max +
    /// per_frame·t); with `inherit`, scale 0 of frame t draws from U(the previous frame's last
    /// ratio, max + per_frame·t). Later targets are re-quantized from the corrupted history.
    /// per_frame 0 and inherit off give Infinity's plain self-correction.
    public struct Corruption: Sendable, Equatable, ConfigurationSection {
        public var enabled: Bool
        public var minRatio: Double
        public var maxRatio: Double
        public var perFrame: Double
        public var inherit: Bool

        public init(
            enabled: Bool = true, minRatio: Double = 0, maxRatio: Double = 0.25, perFrame: Double = 0.01,
            inherit: Bool = true
        ) {
            self.enabled = enabled
            self.minRatio = minRatio
            self.maxRatio = maxRatio
            self.perFrame = perFrame
            self.inherit = inherit
        }

        public static var defaults: Self { Self() }
        public static var keys: [ConfigurationKey<Self>] {
            [
                .init("enabled", \.enabled), .init("min_ratio", \.minRatio), .init("max_ratio", \.maxRatio),
                .init("per_frame", \.perFrame), .init("inherit", \.inherit),
            ]
        }
    }

    /// Random Frame Mask (method §4): a frame attends to the past frames inside `window`
    /// (0: all) that an i.i.d. Bernoulli(1 − probability) draw keeps; the caption stays visible.
    public struct FrameMask: Sendable, Equatable, ConfigurationSection {
        public var enabled: Bool
        public var window: Int
        public var probability: Double

        public init(enabled: Bool = true, window: Int = 0, probability: Double = 0.1) {
            self.enabled = enabled
            self.window = window
            self.probability = probability
        }

        public static var defaults: Self { Self() }
        public static var keys: [ConfigurationKey<Self>] {
            [.init("enabled", \.enabled), .init("window", \.window), .init("probability", \.probability)]
        }
    }

    /// Held-out evaluation: bitwise NLL and accuracy per scale, against two baselines.
    public struct Evaluation: Sendable, Equatable, ConfigurationSection {
        /// Every this many steps (0: only at the end).
        public var every: Int
        /// Held-out batches per evaluation (the same ones every time).
        public var batches: Int

        public init(every: Int = 100, batches: Int = 8) {
            self.every = every
            self.batches = batches
        }

        public static var defaults: Self { Self() }
        public static var keys: [ConfigurationKey<Self>] { [.init("every", \.every), .init("batches", \.batches)] }
    }
}

/// A trainer failure: `TrainerErrorCode`, a message, the cause.
public typealias TrainerError = ModuleError<TrainerErrorCode>

public enum TrainerErrorCode: String, Sendable { case configuration, data, checkpoint, io }
