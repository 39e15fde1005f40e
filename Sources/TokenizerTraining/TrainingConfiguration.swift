import ConfigCoding
import Tokenizer
import VideoIO
import Diagnostics
import TrainingRun

/// How to train a tokenizer: the layout, the data, the stages and every loss weight.
/// Decoded from `Configs/tokenizer/train-*.yaml`; every key has a default.
public struct TokenizerTrainingConfiguration: Sendable, ConfigurationSection, Equatable {
    /// The tokenizer layout being trained (the stages set `temporal_kernel`).
    public var tokenizer: TokenizerConfiguration
    public var data: DataConfiguration
    /// Run in order; an `image` stage followed by a `video` stage inflates the model in between.
    public var stages: [Stage]
    public var losses: LossConfiguration
    public var optimizer: OptimizerConfiguration
    public var discriminator: DiscriminatorConfiguration
    /// Save a resumable checkpoint every this many steps (and at stage ends and on SIGINT).
    public var checkpointEvery: Int
    /// Write an original | reconstruction PNG every this many steps (0: never).
    public var previewEvery: Int
    /// LibTorch intra-op threads; 0 = every core. A process-wide setting, so the program
    /// running the training applies it (`videoar tokenizer train` does), not the trainer.
    public var threads: Int
    /// Seeds the data sampler and the discriminator's initialisation.
    public var seed: UInt64
    /// A tokenizer checkpoint to start from instead of the seeded initialisation: every
    /// tensor whose name fits is copied (temporal kernels grown or cut to the first stage's),
    /// the rest stay seeded — e.g. a trained encoder under a new, wider decoder.
    public var initialWeights: String?
    /// Keep an exponential moving average of the tokenizer's weights at this decay (nil: none),
    /// checkpointed as `tokenizer.ema.safetensors` and shipped as the finished tokenizer (the
    /// last step's weights beside it as `tokenizer.last.safetensors`). It restarts when the
    /// model is inflated, so a frozen encoder's average stays exactly the weights it trains with.
    public var emaDecay: Double?

    public init(
        tokenizer: TokenizerConfiguration = TokenizerConfiguration(), data: DataConfiguration = DataConfiguration(),
        stages: [Stage] = [Stage(name: "image", kind: .image), Stage(name: "video", kind: .video)],
        losses: LossConfiguration = LossConfiguration(), optimizer: OptimizerConfiguration = OptimizerConfiguration(),
        discriminator: DiscriminatorConfiguration = DiscriminatorConfiguration(), checkpointEvery: Int = 200,
        previewEvery: Int = 200, threads: Int = 0, seed: UInt64 = 0, initialWeights: String? = nil,
        emaDecay: Double? = nil
    ) {
        self.tokenizer = tokenizer
        self.data = data
        self.stages = stages
        self.losses = losses
        self.optimizer = optimizer
        self.discriminator = discriminator
        self.checkpointEvery = checkpointEvery
        self.previewEvery = previewEvery
        self.threads = threads
        self.seed = seed
        self.initialWeights = initialWeights
        self.emaDecay = emaDecay
    }

    public static var defaults: Self { Self() }
    public static var keys: [ConfigurationKey<Self>] {
        [
            .init("tokenizer", \.tokenizer), .init("data", \.data), .init("stages", \.stages),
            .init("losses", \.losses),
            .init("optimizer", \.optimizer), .init("discriminator", \.discriminator),
            .init("checkpoint_every", \.checkpointEvery),
            .init("preview_every", \.previewEvery), .init("threads", \.threads), .init("seed", \.seed),
            .init("initial_weights", \.initialWeights), .init("ema_decay", \.emaDecay),
        ]
    }

    /// Total steps over all stages.
    public var totalSteps: Int { stages.reduce(0) { $0 + $1.steps } }

    /// The stage a global step (0-based) falls in, and the step within it.
    public func stage(at step: Int) -> (index: Int, step: Int)? {
        var start = 0
        for (i, stage) in stages.enumerated() {
            if step < start + stage.steps { return (i, step - start) }
            start += stage.steps
        }
        return nil
    }

    /// Checks every value; the message names the key.
    public func validate() throws {
        func fail(_ m: String) -> TrainingError { TrainingError(.configuration, m) }
        var layout = tokenizer
        layout.temporalKernel = 3
        try layout.validate()
        guard !stages.isEmpty else { throw fail("stages: at least one stage is needed") }
        var sawVideo = false
        for (i, stage) in stages.enumerated() {
            let key = "stages[\(i)] (\(stage.name))"
            guard stage.steps >= 1 else { throw fail("\(key).steps must be at least 1") }
            guard stage.batch >= 1 else { throw fail("\(key).batch must be at least 1") }
            guard !stage.sizes.isEmpty, stage.sizes.allSatisfy({ $0 >= 16 && $0 % layout.spatialFactor == 0 }) else {
                throw fail("\(key).sizes must be multiples of \(layout.spatialFactor), at least 16")
            }
            guard !stage.aspectRatios.isEmpty else { throw fail("\(key).aspect_ratios must not be empty") }
            guard stage.learningRate > 0, stage.minLearningRate >= 0, stage.minLearningRate <= stage.learningRate else {
                throw fail("\(key): need 0 ≤ min_learning_rate ≤ learning_rate and learning_rate > 0")
            }
            switch stage.kind {
            case .image:
                if sawVideo {
                    throw fail("\(key): an image stage cannot follow a video stage (the model is already inflated)")
                }
                guard (0...1).contains(stage.videoFrameFraction) else {
                    throw fail("\(key).video_frame_fraction must be in [0, 1]")
                }
            case .video:
                sawVideo = true
                guard stage.frames >= 1 + layout.temporalFactor, (stage.frames - 1) % layout.temporalFactor == 0 else {
                    throw fail("\(key).frames must be 1 + \(layout.temporalFactor)k with k ≥ 1, got \(stage.frames)")
                }
                guard !stage.fps.isEmpty, stage.fps.allSatisfy({ $0 > 0 && $0 <= 120 }) else {
                    throw fail("\(key).fps must list rates in (0, 120]")
                }
            }
        }
        guard !data.videos.isEmpty || !data.images.isEmpty || data.catalog != nil else {
            throw fail(
                "data: give video folders (data.videos), image folders (data.images) and/or a catalog (data.catalog)")
        }
        if stages.contains(where: { $0.kind == .video }), data.videos.isEmpty, data.catalog == nil {
            throw fail("data.videos is empty but a video stage needs clips")
        }
        guard !data.cacheSizes.isEmpty, data.cacheSizes.allSatisfy({ $0 >= 16 }) else {
            throw fail("data.cache_sizes must be ≥ 16")
        }
        guard (0...1).contains(data.colourAugmentation) else {
            throw fail("data.colour_augmentation is a share of pictures: give a number in 0…1")
        }
        guard checkpointEvery >= 1 else { throw fail("checkpoint_every must be at least 1") }
        guard previewEvery >= 0 else { throw fail("preview_every must be ≥ 0") }
        guard threads >= 0 else { throw fail("threads must be ≥ 0") }
        if let emaDecay, !(0..<1).contains(emaDecay) {
            throw fail("ema_decay must be in [0, 1) (0.999 averages over about 1000 steps), got \(emaDecay)")
        }
        try losses.validate()
    }

    /// Where training clips come from.
    public struct DataConfiguration: Sendable, ConfigurationSection, Equatable {
        /// Video files or folders (searched recursively).
        public var videos: [String]
        /// Still-image files or folders, used by image stages.
        public var images: [String]
        /// A catalog (`catalog.sqlite` of `videoar serve`/`ingest`): its ingested sources are
        /// used too, videos and stills told apart by probing.
        public var catalog: String?
        /// Files whose path contains any of these are skipped (e.g. held-out clips).
        public var exclude: [String]
        /// Each source is decoded once per bucket size here (pixel-sqrt); random crops come
        /// from these pictures, so several sizes give several zoom levels.
        public var cacheSizes: [Int]
        /// At most this many files per list (nil: all).
        public var maxFiles: Int?
        /// Share of pictures and clips whose colours are re-mixed (a random channel order and a
        /// saturation boost of up to 2×): real photos hold almost no saturated blue, green or
        /// magenta, so without it the tokenizer never learns to carry them.
        public var colourAugmentation: Double

        public init(
            videos: [String] = [], images: [String] = [], catalog: String? = nil, exclude: [String] = [],
            cacheSizes: [Int] = [160, 256], maxFiles: Int? = nil, colourAugmentation: Double = 0
        ) {
            self.videos = videos
            self.images = images
            self.catalog = catalog
            self.exclude = exclude
            self.cacheSizes = cacheSizes
            self.maxFiles = maxFiles
            self.colourAugmentation = colourAugmentation
        }

        public static var defaults: Self { Self() }
        public static var keys: [ConfigurationKey<Self>] {
            [
                .init("videos", \.videos), .init("images", \.images), .init("catalog", \.catalog),
                .init("exclude", \.exclude),
                .init("cache_sizes", \.cacheSizes), .init("max_files", \.maxFiles),
                .init("colour_augmentation", \.colourAugmentation),
            ]
        }
    }

    /// One stage of training.
    public struct Stage: Sendable, ConfigurationSection, Equatable {
        public enum Kind: String, Sendable, Codable { case image, video }
        public var name: String
        /// `image`: the 2-D model (temporal kernel 1) on single pictures; `video`: the 3-D model on clips.
        public var kind: Kind
        public var steps: Int
        public var batch: Int
        /// Frames per clip (video stages), 1 + τk.
        public var frames: Int
        /// Frame rates clips are resampled to; one is drawn per batch (video stages).
        public var fps: [Double]
        /// Bucket sizes (pixel-sqrt); one is drawn per batch.
        public var sizes: [Int]
        /// Aspect ratios; one is drawn per batch.
        public var aspectRatios: [AspectRatio]
        /// Share of an image stage's pictures taken from video frames rather than stills.
        public var videoFrameFraction: Double
        public var learningRate: Double
        /// Linear warm-up from 0, then cosine decay to `min_learning_rate` at the stage's end.
        public var warmupSteps: Int
        public var minLearningRate: Double
        /// Whether the encoder learns in this stage. Off, its tokens stay exactly those of the
        /// starting weights (shards already written keep their meaning) and only the decoder
        /// trains — e.g. to rebuild the frames between an inflated image encoder's key frames.
        public var trainEncoder: Bool

        public init(
            name: String, kind: Kind, steps: Int = 1000, batch: Int? = nil, frames: Int = 17, fps: [Double] = [8],
            sizes: [Int] = [128], aspectRatios: [AspectRatio] = [AspectRatio(1, 1)], videoFrameFraction: Double = 0.5,
            learningRate: Double = 4e-4, warmupSteps: Int = 100, minLearningRate: Double = 4e-5,
            trainEncoder: Bool = true
        ) {
            self.name = name
            self.kind = kind
            self.steps = steps
            self.batch = batch ?? (kind == .image ? 16 : 2)
            self.frames = kind == .image ? 1 : frames
            self.fps = fps
            self.sizes = sizes
            self.aspectRatios = aspectRatios
            self.videoFrameFraction = videoFrameFraction
            self.learningRate = learningRate
            self.warmupSteps = warmupSteps
            self.minLearningRate = minLearningRate
            self.trainEncoder = trainEncoder
        }

        public static var defaults: Self { Self(name: "video", kind: .video) }
        public static var keys: [ConfigurationKey<Self>] {
            [
                .init("name", \.name), .init("kind", \.kind), .init("steps", \.steps), .init("batch", \.batch),
                .init("frames", \.frames), .init("fps", \.fps), .init("sizes", \.sizes),
                .init("aspect_ratios", \.aspectRatios),
                .init("video_frame_fraction", \.videoFrameFraction), .init("learning_rate", \.learningRate),
                .init("warmup_steps", \.warmupSteps), .init("min_learning_rate", \.minLearningRate),
                .init("train_encoder", \.trainEncoder),
            ]
        }

        /// `kind` is required, and picks the defaults (batch 16 pictures or 2 clips; 1 frame for images).
        public init(from decoder: Decoder) throws {
            let kind = try decoder.container(keyedBy: AnyCodingKey.self).decode(
                Kind.self, forKey: AnyCodingKey(stringValue: "kind"))
            self = try Self.decode(over: Self(name: kind.rawValue, kind: kind), from: decoder)
            if kind == .image { frames = 1 }
        }

        /// The learning rate at `step` within this stage.
        public func learningRate(at step: Int) -> Double {
            LearningRateSchedule(peak: learningRate, warmupSteps: warmupSteps, floor: minLearningRate, steps: steps)
                .rate(at: step)
        }
    }

    /// Every loss weight (method §2). Zero switches a term off.
    public struct LossConfiguration: Sendable, ConfigurationSection, Equatable {
        /// L1 between the clip and its reconstruction, in [−1, 1] units.
        public var l1: Double
        /// MSE between the clip and its reconstruction, in [−1, 1] units: what PSNR measures.
        /// L1 pulls toward the median and spares large errors; a late stage on MSE trades that
        /// for PSNR (off by default).
        public var l2: Double
        /// 1 − SSIM (7×7 windows, per frame): the locally computed perceptual term. No
        /// pretrained network (LPIPS/VGG) can be downloaded here; SSIM needs none and
        /// rewards the structure L1 blurs away.
        public var perceptual: Double
        /// 0.25 · MSE(f, sg(q)) in the method: pulls the features toward their codes.
        public var commitment: Double
        /// Weight of (per-sample entropy − codebook_weight · codebook entropy) over per-bit probabilities.
        public var entropy: Double
        public var codebookWeight: Double
        /// p(bit) = sigmoid(2·√d·u / temperature) for the unit-normalised quantizer input u.
        public var entropyTemperature: Double
        /// Hinge GAN generator term, from `gan_start` (global step) on.
        public var gan: Double
        public var ganStart: Int
        /// LeCAM regulariser on the discriminator, with EMAs of its outputs at `lecam_decay`.
        public var lecam: Double
        public var lecamDecay: Double

        public init(
            l1: Double = 1.0, l2: Double = 0, perceptual: Double = 0.2, commitment: Double = 0.25,
            entropy: Double = 0.1, codebookWeight: Double = 1.0, entropyTemperature: Double = 1.0, gan: Double = 0.05,
            ganStart: Int = 2000, lecam: Double = 0.01, lecamDecay: Double = 0.999
        ) {
            self.l1 = l1
            self.l2 = l2
            self.perceptual = perceptual
            self.commitment = commitment
            self.entropy = entropy
            self.codebookWeight = codebookWeight
            self.entropyTemperature = entropyTemperature
            self.gan = gan
            self.ganStart = ganStart
            self.lecam = lecam
            self.lecamDecay = lecamDecay
        }

        public static var defaults: Self { Self() }
        public static var keys: [ConfigurationKey<Self>] {
            [
                .init("l1", \.l1), .init("l2", \.l2), .init("perceptual", \.perceptual),
                .init("commitment", \.commitment), .init("entropy", \.entropy),
                .init("codebook_weight", \.codebookWeight), .init("entropy_temperature", \.entropyTemperature),
                .init("gan", \.gan),
                .init("gan_start", \.ganStart), .init("lecam", \.lecam), .init("lecam_decay", \.lecamDecay),
            ]
        }

        func validate() throws {
            for (name, value) in [
                ("l1", l1), ("l2", l2), ("perceptual", perceptual), ("commitment", commitment), ("entropy", entropy),
                ("codebook_weight", codebookWeight), ("gan", gan), ("lecam", lecam),
            ] where !(value >= 0) {
                throw TrainingError(.configuration, "losses.\(name) must be ≥ 0, got \(value)")
            }
            guard entropyTemperature > 0 else {
                throw TrainingError(.configuration, "losses.entropy_temperature must be > 0")
            }
            guard (0..<1).contains(lecamDecay) else {
                throw TrainingError(.configuration, "losses.lecam_decay must be in [0, 1)")
            }
            guard ganStart >= 0 else { throw TrainingError(.configuration, "losses.gan_start must be ≥ 0") }
        }
    }

    /// AdamW for the tokenizer and the discriminator.
    public struct OptimizerConfiguration: Sendable, ConfigurationSection, Equatable {
        public var beta1: Double
        public var beta2: Double
        public var weightDecay: Double
        /// The discriminator's learning rate as a multiple of the stage's.
        public var discriminatorLearningRateScale: Double

        public init(
            beta1: Double = 0.5, beta2: Double = 0.9, weightDecay: Double = 1e-4,
            discriminatorLearningRateScale: Double = 1
        ) {
            self.beta1 = beta1
            self.beta2 = beta2
            self.weightDecay = weightDecay
            self.discriminatorLearningRateScale = discriminatorLearningRateScale
        }

        public static var defaults: Self { Self() }
        public static var keys: [ConfigurationKey<Self>] {
            [
                .init("beta1", \.beta1), .init("beta2", \.beta2), .init("weight_decay", \.weightDecay),
                .init("discriminator_learning_rate_scale", \.discriminatorLearningRateScale),
            ]
        }
    }

    /// The 3-D patch discriminator's widths.
    public struct DiscriminatorConfiguration: Sendable, ConfigurationSection, Equatable {
        public var baseChannels: Int
        /// Stride-2 layers (each halves H and W, and T when T > 1).
        public var layers: Int

        public init(baseChannels: Int = 32, layers: Int = 3) {
            self.baseChannels = baseChannels
            self.layers = layers
        }

        public static var defaults: Self { Self() }
        public static var keys: [ConfigurationKey<Self>] {
            [.init("base_channels", \.baseChannels), .init("layers", \.layers)]
        }
    }
}

/// A training or evaluation failure: `TrainingErrorCode`, a message, the cause.
public typealias TrainingError = ModuleError<TrainingErrorCode>

public enum TrainingErrorCode: String, Sendable { case configuration, data, checkpoint, evaluation, io }

#if canImport(Glibc)
import Glibc
#endif
