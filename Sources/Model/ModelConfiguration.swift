import ConfigCoding
import Diagnostics

/// The transformer's layout (method §3). `Configs/model/` holds a CPU-sized default and the
/// paper's L / XL / 4B layouts for reference.
public struct ModelConfiguration: Sendable, Equatable, Codable, ConfigurationSection {
    public var name: String
    /// Model width (the residual stream).
    public var width: Int
    /// Transformer blocks.
    public var depth: Int
    public var heads: Int
    /// MLP hidden width = width × mlp_ratio.
    public var mlpRatio: Double
    /// d: bits per token, the tokenizer's latent dimension (the bitwise head has d logits).
    public var bitsPerToken: Int
    /// The most scales a frame can have (size of the scale embedding).
    public var maxScales: Int
    /// `temporal`: Multi-scale Temporal RoPE, each head's pairs rotated by the token's
    /// (time, height, width) with coarse scales on the finest grid. `sequence`: the LLM's 1D
    /// RoPE over the token's index in the sequence — the ablation's baseline.
    public var rope: RotaryKind
    /// Share of each head's rotation pairs given to time, height and width (Multi-scale
    /// Temporal RoPE); the rest after time is split evenly between height and width.
    public var ropeTimeShare: Double
    /// RoPE frequency base: positions here are small (latent frames and grid cells), so a
    /// base far below the LLM default 10000 keeps the slowest pair useful.
    public var ropeBase: Double
    /// `hashed`: a caption encoder trained from scratch with the model (words hashed into
    /// `caption_vocabulary` rows and averaged); `all-MiniLM-L6-v2`: the pretrained sentence
    /// encoder from `caption_encoder_folder`, frozen, with a trained projection.
    public var captionEncoder: CaptionEncoderKind
    /// Where `Scripts/fetch-text-encoder` puts all-MiniLM-L6-v2.
    public var captionEncoderFolder: String
    /// Caption words are hashed into this many embedding rows (the from-scratch text encoder).
    public var captionVocabulary: Int
    /// Words of a caption the encoder reads.
    public var captionWords: Int
    public var seed: UInt64

    public init(
        name: String = "cpu-small", width: Int = 256, depth: Int = 4, heads: Int = 4, mlpRatio: Double = 4,
        bitsPerToken: Int = 32, maxScales: Int = 16, rope: RotaryKind = .temporal, ropeTimeShare: Double = 0.25,
        ropeBase: Double = 100,
        captionEncoder: CaptionEncoderKind = .hashed, captionEncoderFolder: String = "models/all-MiniLM-L6-v2",
        captionVocabulary: Int = 4096, captionWords: Int = 32, seed: UInt64 = 0
    ) {
        self.name = name
        self.width = width
        self.depth = depth
        self.heads = heads
        self.mlpRatio = mlpRatio
        self.bitsPerToken = bitsPerToken
        self.maxScales = maxScales
        self.rope = rope
        self.ropeTimeShare = ropeTimeShare
        self.ropeBase = ropeBase
        self.captionEncoder = captionEncoder
        self.captionEncoderFolder = captionEncoderFolder
        self.captionVocabulary = captionVocabulary
        self.captionWords = captionWords
        self.seed = seed
    }

    public static var defaults: Self { Self() }
    public static var keys: [ConfigurationKey<Self>] {
        [
            .init("name", \.name), .init("width", \.width), .init("depth", \.depth), .init("heads", \.heads),
            .init("mlp_ratio", \.mlpRatio), .init("bits_per_token", \.bitsPerToken), .init("max_scales", \.maxScales),
            .init("rope", \.rope), .init("rope_time_share", \.ropeTimeShare), .init("rope_base", \.ropeBase),
            .init("caption_encoder", \.captionEncoder), .init("caption_encoder_folder", \.captionEncoderFolder),
            .init("caption_vocabulary", \.captionVocabulary), .init("caption_words", \.captionWords),
            .init("seed", \.seed),
        ]
    }

    public var headDim: Int { width / heads }

    /// About how many bytes one teacher-forced training step holds at its peak, for `batch`
    /// clips of `tokens` tokens each — to refuse a stage that cannot fit before it starts,
    /// not to size anything. Attention is dense over the whole clip, so the L² term rules:
    /// per layer the saved attention probabilities (and, one layer at a time, their
    /// gradients: ≈ 1.25 [B, H, L, L] float32 per layer), ~16 residual-width activations per
    /// token, and a fixed 0.5 GiB (LibTorch, weights, optimiser state, open shards).
    /// Calibrated on the CPU default (width 256, depth 4, batch 8) over 16:9 clips at 128²:
    /// 773 / 1546 / 3865 tokens measured 1.2 / 2.7 / 11.1 GiB peak RSS; this gives 1.2 / 2.7 / 11.3.
    public func trainingStepBytes(batch: Int, tokens: Int) -> Double {
        let (b, l) = (Double(batch), Double(tokens))
        let attention = 1.25 * Double(depth) * b * Double(heads) * l * l * 4
        let activations = 16 * Double(depth) * b * l * Double(width) * 4
        return attention + activations + Double(1 << 29)
    }

    public func validate() throws {
        func fail(_ m: String) -> ModelError { ModelError(.configuration, m) }
        guard width > 0, depth > 0, heads > 0 else { throw fail("width, depth and heads must be positive") }
        guard width % heads == 0 else { throw fail("width \(width) must divide into \(heads) heads") }
        guard headDim % 2 == 0, headDim >= 6 else {
            throw fail("the head width \(headDim) must be even and ≥ 6 (RoPE rotates pairs over three axes)")
        }
        guard mlpRatio > 0 else { throw fail("mlp_ratio must be positive") }
        guard bitsPerToken > 0, maxScales > 0 else { throw fail("bits_per_token and max_scales must be positive") }
        guard ropeTimeShare > 0, ropeTimeShare < 1 else { throw fail("rope_time_share must be in (0, 1)") }
        guard ropeBase > 1 else { throw fail("rope_base must be > 1") }
        guard captionVocabulary > 0, captionWords > 0 else {
            throw fail("caption_vocabulary and caption_words must be positive")
        }
    }
}

/// How RoPE positions a token (`ModelConfiguration.rope`).
public enum RotaryKind: String, Sendable, Codable {
    case temporal
    case sequence
}

/// Which caption encoder conditions the model.
public enum CaptionEncoderKind: String, Sendable, Codable {
    case hashed
    case miniLM = "all-MiniLM-L6-v2"
}

/// A model failure: `ModelErrorCode`, a message, the cause.
public typealias ModelError = ModuleError<ModelErrorCode>

public enum ModelErrorCode: String, Sendable { case configuration, input, checkpoint }
