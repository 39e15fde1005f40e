import ConfigCoding
import Diagnostics

/// The shape of a causal 3D multi-scale tokenizer. Decoded from `Configs/tokenizer/*.yaml`.
///
/// The layout follows Infinity's image tokenizer made causal in time (method §2): levels of
/// ResNet blocks at growing widths, a stride-2 downsample between levels (so 5 levels give
/// the spatial factor 16), temporal stride 2 on the last two downsamples (17 → 9 → 5
/// latent frames, the first frame encoded alone). A CPU-sized tokenizer shrinks widths,
/// not structure.
public struct TokenizerConfiguration: Sendable, ConfigurationSection, Equatable {
    /// A name for people ("cpu-small").
    public var name: String
    /// Channels of the first level.
    public var baseChannels: Int
    /// Width of each level as a multiple of `baseChannels`; levels − 1 downsamples.
    public var channelMultipliers: [Int]
    /// ResNet blocks per level.
    public var resBlocks: Int
    /// Which downsamples (0-based) also halve time.
    public var temporalDownsamples: [Int]
    /// d: bits per token (the latent dimension).
    public var latentDim: Int
    /// Groups of the (per-frame) group normalisation.
    public var normGroups: Int
    /// Side lengths of the square scale schedule, truncated at the latent grid (Infinity's list).
    public var scaleSides: [Int]
    /// Code magnitude at scale k is √(h_k·w_k / (H·W)) · code_decay^k (see Quantizer.swift).
    public var codeDecay: Double
    /// Seed of the deterministic initialisation used when no checkpoint is given.
    public var seed: UInt64
    /// Frames each convolution sees: 3 for the video tokenizer, 1 for the image model that
    /// training starts from and then inflates into 3 (see `Tokenizer.inflated`).
    public var temporalKernel: Int
    /// Channels of the decoder's first level when it should be wider than the encoder
    /// (nil: `baseChannels`). Ingest only runs the encoder, so decoder width buys quality
    /// without costing ingest time.
    public var decoderBaseChannels: Int?
    /// ResNet blocks per decoder level (nil: `resBlocks`).
    public var decoderResBlocks: Int?
    /// Encoder levels, from the finest, whose convolutions see one frame each (nil: 0). Time
    /// is then mixed only from the first temporal downsample on, at a quarter of the pixels or
    /// fewer: a 3-D encoder at a fraction of a full 3-D pass's cost, whose full-resolution
    /// work grows with the frames but not with the temporal kernel.
    public var encoderPictureLevels: Int?

    public init(
        name: String = "cpu-small", baseChannels: Int = 16, channelMultipliers: [Int] = [1, 2, 4, 4, 4],
        resBlocks: Int = 1, temporalDownsamples: [Int] = [2, 3], latentDim: Int = 32, normGroups: Int = 8,
        scaleSides: [Int] = [1, 2, 4, 6, 8, 12, 16, 20, 24, 32, 40, 48, 64], codeDecay: Double = 0.8, seed: UInt64 = 0,
        temporalKernel: Int = 3, decoderBaseChannels: Int? = nil, decoderResBlocks: Int? = nil,
        encoderPictureLevels: Int? = nil
    ) {
        self.name = name
        self.baseChannels = baseChannels
        self.channelMultipliers = channelMultipliers
        self.resBlocks = resBlocks
        self.temporalDownsamples = temporalDownsamples
        self.latentDim = latentDim
        self.normGroups = normGroups
        self.scaleSides = scaleSides
        self.codeDecay = codeDecay
        self.seed = seed
        self.temporalKernel = temporalKernel
        self.decoderBaseChannels = decoderBaseChannels
        self.decoderResBlocks = decoderResBlocks
        self.encoderPictureLevels = encoderPictureLevels
    }

    /// Width of each encoder level.
    public var encoderWidths: [Int] { channelMultipliers.map { $0 * baseChannels } }
    /// Width of each decoder level (listed fine to coarse, like the encoder's).
    public var decoderWidths: [Int] { channelMultipliers.map { $0 * (decoderBaseChannels ?? baseChannels) } }

    /// Frames an encoder convolution of `level` sees (the input conv counts as level 0): 1 in
    /// the first `encoder_picture_levels` levels, else `temporalKernel`. A temporal downsample
    /// always sees time, so the frames it strides over still reach the latents.
    func encoderTemporalKernel(level: Int, temporalDownsample: Bool = false) -> Int {
        temporalDownsample || level >= (encoderPictureLevels ?? 0) ? temporalKernel : 1
    }

    /// Pixels per latent cell along each side.
    public var spatialFactor: Int { 1 << (channelMultipliers.count - 1) }
    /// Frames per latent frame after the first.
    public var temporalFactor: Int { 1 << temporalDownsamples.count }

    /// Latent frames for `frames` input frames: 1 + (T − 1) / τ.
    public func latentFrames(_ frames: Int) -> Int { 1 + (frames - 1) / temporalFactor }

    public static var defaults: Self { Self() }
    public static var keys: [ConfigurationKey<Self>] {
        [
            .init("name", \.name), .init("base_channels", \.baseChannels),
            .init("channel_multipliers", \.channelMultipliers),
            .init("res_blocks", \.resBlocks), .init("temporal_downsamples", \.temporalDownsamples),
            .init("latent_dim", \.latentDim),
            .init("norm_groups", \.normGroups), .init("scale_sides", \.scaleSides), .init("code_decay", \.codeDecay),
            .init("seed", \.seed), .init("temporal_kernel", \.temporalKernel),
            .init("decoder_base_channels", \.decoderBaseChannels), .init("decoder_res_blocks", \.decoderResBlocks),
            .init("encoder_picture_levels", \.encoderPictureLevels),
        ]
    }

    /// Checks the values; the message names the key.
    public func validate() throws {
        func fail(_ m: String) -> TokenizerError { TokenizerError(.configuration, m) }
        guard channelMultipliers.count >= 2 else { throw fail("channel_multipliers needs at least 2 levels") }
        guard baseChannels >= 1, channelMultipliers.allSatisfy({ $0 >= 1 }) else {
            throw fail("channel widths must be positive")
        }
        if let decoderBaseChannels, decoderBaseChannels < 1 {
            throw fail("decoder_base_channels must be positive, got \(decoderBaseChannels)")
        }
        for width in encoderWidths + decoderWidths where width % normGroups != 0 {
            throw fail("norm_groups (\(normGroups)) must divide every level's width; \(width) does not split")
        }
        guard Set(temporalDownsamples).count == temporalDownsamples.count,
            temporalDownsamples.allSatisfy({ (0..<(channelMultipliers.count - 1)).contains($0) })
        else {
            throw fail("temporal_downsamples must name distinct downsamples in 0..<\(channelMultipliers.count - 1)")
        }
        if let levels = encoderPictureLevels, !(0..<channelMultipliers.count).contains(levels) {
            throw fail("encoder_picture_levels must be in 0..<\(channelMultipliers.count) (the levels), got \(levels)")
        }
        guard latentDim >= 1, latentDim <= 64 else { throw fail("latent_dim must be in 1...64, got \(latentDim)") }
        guard resBlocks >= 1 else { throw fail("res_blocks must be at least 1") }
        guard (decoderResBlocks ?? 1) >= 1 else { throw fail("decoder_res_blocks must be at least 1") }
        guard scaleSides.first == 1, zip(scaleSides, scaleSides.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw fail("scale_sides must start at 1 and increase")
        }
        guard codeDecay > 0, codeDecay <= 1 else { throw fail("code_decay must be in (0, 1]") }
        guard temporalKernel == 1 || temporalKernel == 3 else {
            throw fail(
                "temporal_kernel must be 3 (video) or 1 (the image model before inflation), got \(temporalKernel)")
        }
    }
}

/// A tokenizer failure: `TokenizerErrorCode`, a message, the cause.
public typealias TokenizerError = ModuleError<TokenizerErrorCode>

public enum TokenizerErrorCode: String, Sendable { case configuration, input, checkpoint }
