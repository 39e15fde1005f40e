import Crypto
import Foundation
import Logging
import Tensor
import TokenFormat

/// The causal 3D multi-scale tokenizer: video ↔ bits.
///
/// Encoding maps a clip of T = 1 + τk frames to T′ = 1 + k latent frames of H/16 × W/16
/// d-vectors, then quantizes each latent frame over the scale schedule (see
/// `MultiScaleBSQ`). Everything it produces carries its `identity`.
///
/// Immutable once made (weights are frozen, gradients off), so one tokenizer can serve
/// several threads at once.
public final class Tokenizer: Module, @unchecked Sendable {
    public let configuration: TokenizerConfiguration
    let encoder: CausalEncoder
    /// The encoder as a per-picture model, when it is one in effect (see `keyFrameEncoder(of:)`).
    /// Derived from `encoder`'s weights, so not a parameter (the underscore keeps it out of
    /// `namedParameters`: checkpoints, the identity and optimisers never see it).
    private var _keyFrameEncoder: CausalEncoder?
    let decoder: CausalDecoder
    let _quantizer: MultiScaleBSQ
    public private(set) var identity: TokenizerIdentity
    /// The absolute path of the checkpoint the weights came from (nil for the seeded
    /// initialisation): the catalog records it so every shard can be decoded back to pixels.
    public let weightsPath: String?

    /// A tokenizer from a configuration, with the deterministic seeded initialisation
    /// (labelled untrained) or the weights of a checkpoint written by `save(to:)`.
    public init(
        configuration: TokenizerConfiguration = TokenizerConfiguration(), checkpoint: String? = nil,
        logger: Logger
    ) throws {
        var configuration = configuration
        var weights: SafeTensors.File? = nil
        weightsPath = checkpoint.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        if let checkpoint {
            do { weights = try SafeTensors.read(checkpoint) } catch let error as TorchError {
                throw TokenizerError(.checkpoint, "cannot read \(checkpoint)", cause: "\(error)")
            }
            guard let text = weights?.metadata[Self.configKey],
                let stored = try? JSONDecoder().decode(TokenizerConfiguration.self, from: Data(text.utf8))
            else {
                throw TokenizerError(.checkpoint, "\(checkpoint) has no tokenizer configuration in its metadata")
            }
            configuration = stored
        }
        try configuration.validate()
        self.configuration = configuration
        let generator = Generator(seed: configuration.seed)
        encoder = try CausalEncoder(configuration, generator: generator)
        decoder = try CausalDecoder(configuration, generator: generator)
        _quantizer = MultiScaleBSQ(dim: configuration.latentDim, decay: configuration.codeDecay)
        identity = TokenizerIdentity(id: "", name: configuration.name, trained: false)
        if let weights {
            do { try load(weights.tensors) } catch let error as TorchError {
                throw TokenizerError(
                    .checkpoint, "\(checkpoint!) does not fit configuration '\(configuration.name)'", cause: "\(error)")
            }
        }
        let trained = weights?.metadata[Self.trainedKey] == "true"
        identity = TokenizerIdentity(id: try contentHash(), name: configuration.name, trained: trained)
        setTrainable(false)
        _keyFrameEncoder = try Self.keyFrameEncoder(of: encoder, configuration: configuration)
        logger.debug("tokenizer ready", metadata: ["tokenizer": "\(identity)", "parameters": "\(parameterCount)"])
    }

    static let configKey = "videoar.tokenizer.config"
    static let trainedKey = "videoar.tokenizer.trained"

    /// Writes the weights and configuration as safetensors (atomically). `weights` replaces
    /// the model's own tensors by name (a trainer's averaged weights share this layout).
    public func save(
        to path: String, trained: Bool, weights: [String: Tensor]? = nil, metadata extra: [String: String] = [:]
    ) throws {
        let tensors = Dictionary(
            uniqueKeysWithValues: namedParameters().map { ($0.name, weights?[$0.name] ?? $0.tensor) })
        try Self.write(tensors, configuration: configuration, trained: trained, metadata: extra, to: path)
    }

    /// Writes this tokenizer for others to use: under `name`, with `recipe` (how it was made) in
    /// its metadata, and — unless `decoderInFloat16` is false — the decoder's tensors in float16,
    /// which halves the decoder's bytes and changes its output by far less than a grey level.
    /// The encoder stays float32, so the tokens (and every shard written with them) are the same.
    public func export(to path: String, name: String? = nil, recipe: String? = nil, decoderInFloat16: Bool = true)
        throws
    {
        var configuration = configuration
        if let name { configuration.name = name }
        try configuration.validate()
        var tensors: [String: Tensor] = [:]
        for (parameter, tensor) in namedParameters() {
            tensors[parameter] = decoderInFloat16 && parameter.hasPrefix("decoder.") ? try tensor.to(.float16) : tensor
        }
        var metadata: [String: String] = [:]
        if let recipe { metadata[Self.recipeKey] = recipe }
        try Self.write(tensors, configuration: configuration, trained: identity.trained, metadata: metadata, to: path)
    }

    /// How a shipped tokenizer was made (free text, from `export`).
    public static let recipeKey = "videoar.tokenizer.recipe"

    private static func write(
        _ tensors: [String: Tensor], configuration: TokenizerConfiguration, trained: Bool,
        metadata extra: [String: String], to path: String
    ) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let config = String(decoding: try encoder.encode(configuration), as: UTF8.self)
        let metadata = extra.merging([
            Self.configKey: config, Self.trainedKey: trained ? "true" : "false",
            "videoar.format": "tokenizer-v1",
        ]) { _, ours in ours }
        try SafeTensors.write(tensors, metadata: metadata, to: path)
    }

    private func contentHash() throws -> String {
        var hasher = SHA256()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        hasher.update(data: try encoder.encode(configuration))
        for (name, tensor) in namedParameters().sorted(by: { $0.name < $1.name }) {
            hasher.update(data: Data(name.utf8))
            var bytes = [UInt8](repeating: 0, count: tensor.count * tensor.dtype.byteSize)
            try bytes.withUnsafeMutableBytes { try tensor.copyBytes(into: $0) }
            hasher.update(data: bytes)
        }
        return hasher.finalize().prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    // MARK: - Video ↔ tensors

    /// uint8 [T, H, W, 3] → float [1, 3, T, H, W] in [−1, 1].
    package static func normalize(_ video: Tensor) throws -> Tensor {
        try (video.to(.float32) / 127.5 - 1).permuted([3, 0, 1, 2]).unsqueezed(dim: 0).contiguous()
    }

    /// float [1, 3, T, H, W] → uint8 [T, H, W, 3].
    package static func denormalize(_ x: Tensor) throws -> Tensor {
        try ((x.clamp(min: -1, max: 1) + 1) * 127.5).rounded().squeezed(dim: 0).permuted([1, 2, 3, 0]).to(.uint8)
            .contiguous()
    }

    /// Checks a uint8 [T, H, W, 3] video against the tokenizer's factors.
    func check(_ video: Tensor) throws {
        let s = video.shape
        let f = configuration.spatialFactor, tau = configuration.temporalFactor
        guard s.count == 4, s[3] == 3 else {
            throw TokenizerError(.input, "a video must be uint8 [T, H, W, 3], got \(s)")
        }
        guard s[1] % f == 0, s[2] % f == 0 else {
            throw TokenizerError(.input, "height and width must be multiples of \(f), got \(s[1])×\(s[2])")
        }
        guard (s[0] - 1) % tau == 0 else {
            throw TokenizerError(.input, "frames must be 1 + \(tau)k (1, \(1 + tau), \(1 + 2 * tau), …), got \(s[0])")
        }
    }

    // MARK: - Encode / decode

    /// The encoder's continuous output [1, d, T′, H′, W′] for a uint8 [T, H, W, 3] video,
    /// before quantization (for inspection and benchmarks).
    public func latentFeatures(_ video: Tensor) throws -> Tensor {
        try check(video)
        return try withoutGrad { try features(video) }
    }

    /// Latent features [1, d, T′, H′, W′] (before quantization). `firstFrame` is the index
    /// of the video's first frame in the whole clip (chunked encoding).
    func features(_ video: Tensor, cache: CausalCache? = nil, firstFrame: Int = 0, keyFrames: Bool = true) throws
        -> Tensor
    {
        guard keyFrames, let _keyFrameEncoder else { return try encoder(Self.normalize(video), cache: cache) }
        // Latent frame t is the picture model on frame τ·t alone: encode just those, as a batch.
        let tau = configuration.temporalFactor
        let keys = (0..<video.shape[0]).filter { (firstFrame + $0) % tau == 0 }
        let index = try Tensor(keys.map { Int64($0) }, shape: [keys.count])
        let pictures = try Self.normalize(video.indexSelect(dim: 0, index))  // [1, 3, K, H, W]
        let latent = try _keyFrameEncoder(pictures.permuted([2, 1, 0, 3, 4]).contiguous())  // [K, d, 1, H′, W′]
        return try latent.permuted([2, 1, 0, 3, 4])  // [1, d, K, H′, W′]
    }

    /// Whether `encode` runs the per-picture fast path (every encoder kernel's past slices are
    /// zero, as in an inflated image model): the same latents for a fraction of the work.
    public var encodesKeyFramesOnly: Bool { _keyFrameEncoder != nil }

    /// The encoder as a picture model, when its output cannot depend on anything but the key
    /// frames: a kernel whose past temporal slices are zero computes on each frame alone, the
    /// temporal strides keep frames 0, τ, 2τ, …, so latent frame t = f(frame τ·t). Running f on
    /// those frames alone skips the τ − 1 frames in between and two thirds of every kernel —
    /// about a tenth of the 3-D work on 17 frames. Nil when any past slice is non-zero.
    private static func keyFrameEncoder(of encoder: CausalEncoder, configuration: TokenizerConfiguration) throws
        -> CausalEncoder?
    {
        if configuration.temporalKernel == 1 { return encoder }
        var values: [String: Tensor] = [:]
        for (name, tensor) in encoder.namedParameters() {
            var s = tensor.shape
            if s.count == 5, s[2] > 1 {  // a kernel over time (not a bias, norm or 1×1×1 skip)
                guard try tensor.slice(dim: 2, 0..<(s[2] - 1)).abs().max().item() == 0 else { return nil }
                s[2] = 1
            }
            values[name] = try fittedInTime(tensor, to: s)
        }
        var picture = configuration
        picture.temporalKernel = 1
        let model = try CausalEncoder(picture, generator: Generator(seed: 0))
        try model.load(values)
        model.setTrainable(false)
        return model
    }

    /// Quantizes latent features; M = 1 × T′ frames, each on its own.
    func quantize(_ latent: Tensor, measure: Bool = false) throws -> (MultiScaleBSQ.Output, ScaleSchedule) {
        let s = latent.shape  // [1, d, T′, H′, W′]
        let frames = try latent.permuted([0, 2, 1, 3, 4]).reshaped([s[0] * s[2], s[1], s[3], s[4]])
        let schedule = ScaleSchedule(height: s[3], width: s[4], sides: configuration.scaleSides)
        return (try _quantizer.quantize(frames, schedule: schedule, measure: measure), schedule)
    }

    /// Tokens of a uint8 [T, H, W, 3] video.
    public func encode(_ video: Tensor) throws -> TokenClip {
        try check(video)
        return try withoutGrad { try tokens(from: features(video), frames: video.shape[0]).tokens }
    }

    /// The same tokens as `encode`, computed `chunkFrames` at a time (first chunk 1 + τk
    /// frames, then τk each), holding only one chunk of activations.
    public func encode(_ video: Tensor, chunkFrames: Int) throws -> TokenClip {
        try check(video)
        let tau = configuration.temporalFactor
        guard chunkFrames >= tau, chunkFrames % tau == 0 else {
            throw TokenizerError(.input, "chunk_frames must be a positive multiple of \(tau), got \(chunkFrames)")
        }
        let total = video.shape[0]
        return try withoutGrad {
            let cache = CausalCache()
            var pieces: [Tensor] = []
            var start = 0
            while start < total {
                let end = min(total, start == 0 ? 1 + chunkFrames : start + chunkFrames)
                pieces.append(try features(video.slice(dim: 0, start..<end), cache: cache, firstFrame: start))
                start = end
            }
            return try tokens(from: Tensor.cat(pieces, dim: 2), frames: total).tokens
        }
    }

    /// The tokens of latent features and, with `measure`, the mean ‖residual‖ by scale.
    private func tokens(from latent: Tensor, frames: Int, measure: Bool = false) throws
        -> (tokens: TokenClip, residualNorms: [Double])
    {
        let (output, schedule) = try quantize(latent, measure: measure)
        let s = latent.shape  // [1, d, T′, H′, W′]
        // Per scale [T′, d, h, w] → [T′, h·w, d]; then join scales along tokens.
        let perScale = try output.bits.map { try $0.flattened(from: 2).transposed(1, 2) }
        let tokens = try TokenClip(
            tokenizer: identity, frames: frames, latentFrames: s[2], latentHeight: s[3], latentWidth: s[4],
            schedule: schedule, bitsPerToken: s[1], codeDecay: configuration.codeDecay,
            bits: try Tensor.cat(perScale, dim: 1).contiguous())
        return (tokens, output.residualNorms)
    }

    /// The quantized latent [1, d, T′, H′, W′] the bits stand for.
    func latent(of tokens: TokenClip) throws -> Tensor {
        let perScale = try tokens.schedule.scales.indices.map { try tokens.grids(scale: $0) }
        let frames = try _quantizer.dequantize(perScale, schedule: tokens.schedule)  // [T′, d, H′, W′]
        return try frames.permuted([1, 0, 2, 3]).unsqueezed(dim: 0)
    }

    /// Video uint8 [T, H, W, 3] from tokens.
    public func decode(_ tokens: TokenClip) throws -> Tensor {
        guard tokens.tokenizer.id == identity.id else {
            throw TokenizerError(
                .input, "these tokens come from tokenizer \(tokens.tokenizer.id), this is \(identity.id)")
        }
        return try withoutGrad { try Self.denormalize(decoder(latent(of: tokens))) }
    }

    /// decode(encode(video)).
    public func reconstruct(_ video: Tensor) throws -> Tensor { try decode(encode(video)) }

    /// `encode`, plus how much of the unit latent the bits leave out: the mean ‖residual‖
    /// before the first scale and after each one (1 → … → what the decoder never sees).
    package func encodeMeasuringResidual(_ video: Tensor) throws -> (tokens: TokenClip, residualNorms: [Double]) {
        try check(video)
        return try withoutGrad { try tokens(from: features(video), frames: video.shape[0], measure: true) }
    }
}

// MARK: - Training (the `TokenizerTraining` module's view)

extension Tokenizer {
    /// What one differentiable pass produces.
    package struct TrainingPass {
        /// The decoder's output [N, 3, T, H, W], about [−1, 1].
        package var reconstruction: Tensor
        /// The quantizer's view of the N·T′ latent frames.
        package var quantizer: MultiScaleBSQ.Output
    }

    /// video [N, 3, T, H, W] in [−1, 1] → reconstruction through the quantizer, with
    /// straight-through gradients to the encoder.
    package func trainingPass(_ video: Tensor) throws -> TrainingPass {
        let latent = try encoder(video)  // [N, d, T′, H′, W′]
        let s = latent.shape
        let (output, _) = try quantize(latent)  // quantized [N·T′, d, H′, W′]
        let quantized = try output.quantized.reshaped([s[0], s[2], s[1], s[3], s[4]]).permuted([0, 2, 1, 3, 4])
        return TrainingPass(reconstruction: try decoder(quantized), quantizer: output)
    }

    /// Turns gradients on or off for the encoder alone (a stage that trains the decoder only).
    package func setEncoderTrainable(_ trainable: Bool) { encoder.setTrainable(trainable) }

    /// Recomputes `identity` after the weights changed in place (training).
    package func refreshIdentity(trained: Bool) throws {
        identity = TokenizerIdentity(id: try contentHash(), name: configuration.name, trained: trained)
        _keyFrameEncoder = try withoutGrad { try Self.keyFrameEncoder(of: encoder, configuration: configuration) }
    }

    /// `tensor` fitted to a parameter of `shape` along time: as is when the shapes agree; a
    /// 1-frame kernel [O, I, 1, k, k] grown to kT frames with zeros before it (the current
    /// frame last, as inflation does); a longer kernel cut to its current-frame slice (exact
    /// when its past slices are zero). Nil when the shapes differ in any other way.
    package static func fittedInTime(_ tensor: Tensor, to shape: [Int]) throws -> Tensor? {
        let s = tensor.shape
        if s == shape { return tensor }
        guard s.count == 5, shape.count == 5, s[0] == shape[0], s[1] == shape[1], s[3...] == shape[3...] else {
            return nil
        }
        if shape[2] == 1 { return try tensor.slice(dim: 2, (s[2] - 1)..<s[2]).contiguous() }
        guard s[2] == 1 else { return nil }
        let grown = try Tensor.zeros(shape)
        try grown.slice(dim: 2, (shape[2] - 1)..<shape[2]).copy_(tensor)
        return grown
    }

    /// A checkpoint's tensor at the latent's ends fitted to a latent k times as wide (d → k·d
    /// bits per token), so the wider model starts out computing exactly what the narrower one
    /// did: the encoder's extra output channels repeat its d channels in another order and
    /// sign — the latent's norm grows by √k and every code shrinks by √k, so each of the
    /// first d channels keeps its bits — and the decoder reads the first d channels at √k
    /// times their weight and the others at zero. Training then lets the new bits carry what
    /// the first d leave out — slowly, measured: copies carry nothing new, so after 1100 clip
    /// steps the decoder still read the new channels at 3 % of the old ones' weight (README,
    /// "Twice the bits per token"). Nil for any other tensor or shape.
    package static func widenedLatent(_ stored: Tensor, name: String, to shape: [Int]) throws -> Tensor? {
        let s = stored.shape
        switch name {
        case "encoder.convOut.weight", "encoder.convOut.bias":  // [d, …] → [k·d, …]
            let d = s[0]
            guard s.count == shape.count, shape[0] > d, shape[0] % d == 0, s[1...] == shape[1...] else { return nil }
            let tensor = try stored.to(.float32)
            var blocks = [tensor]
            for j in 1..<(shape[0] / d) {
                let shift = j % d  // a cyclic shift, negated in odd blocks: a signed permutation
                let shifted =
                    shift == 0
                    ? tensor
                    : try Tensor.cat([tensor.slice(dim: 0, shift..<d), tensor.slice(dim: 0, 0..<shift)], dim: 0)
                blocks.append(j % 2 == 1 ? try shifted * -1 : shifted)
            }
            return try Tensor.cat(blocks, dim: 0).contiguous()
        case "decoder.convIn.weight":  // [O, d, kT, k, k] → [O, k·d, kT, k, k]
            guard s.count == 5, shape.count == 5, s[0] == shape[0], shape[1] > s[1], shape[1] % s[1] == 0,
                s[2...] == shape[2...]
            else { return nil }
            var rest = shape
            rest[1] = shape[1] - s[1]
            let k = Double(shape[1] / s[1])
            let tensor = try stored.to(.float32)  // an exported decoder is stored as float16
            return try Tensor.cat([tensor * k.squareRoot(), Tensor.zeros(rest)], dim: 1).contiguous()
        default:
            return nil
        }
    }

    /// Whether `name` is the second convolution of a residual block that `stored` lacks
    /// altogether, as when `decoder_res_blocks` grows. Zeroed, an added block (same width in
    /// and out, so no skip conv) adds nothing to its input: the deeper model starts out
    /// computing exactly what the checkpoint did, and training only has to find a use for it.
    static func startsAsIdentity(_ name: String, among stored: [String: Tensor]) -> Bool {
        guard let range = name.range(of: ".conv2.", options: .backwards) else { return false }
        let block = name[..<range.lowerBound]
        return !stored.keys.contains { $0.hasPrefix(block + ".") }
    }

    /// Copies every tensor of `checkpoint` whose name is one of this model's parameters and
    /// whose shape fits — equal, or a temporal kernel of another length: a 1-frame kernel is
    /// grown as `inflated` grows it, a longer one cut to its last (current-frame) slice, which
    /// is exact for an inflated image model; or, at the latent's ends, a latent k times as wide
    /// (`widenedLatent`). A residual block the checkpoint lacks starts as the identity
    /// (`startsAsIdentity`). Returns the names left at their initialisation.
    package func warmStart(from checkpoint: String) throws -> [String] {
        let file: SafeTensors.File
        do { file = try SafeTensors.read(checkpoint) } catch let error as TorchError {
            throw TokenizerError(.checkpoint, "cannot read the initial weights \(checkpoint)", cause: "\(error)")
        }
        var values: [String: Tensor] = [:]
        var kept: [String] = []
        try withoutGrad {
            for (name, slot) in namedParameters() {
                if let source = file.tensors[name],
                    let fitted = try Self.fittedInTime(
                        Self.widenedLatent(source, name: name, to: slot.shape) ?? source, to: slot.shape)
                {
                    values[name] = fitted
                } else {
                    kept.append(name)
                    values[name] =
                        try Self.startsAsIdentity(name, among: file.tensors)
                        ? Tensor.zeros(slot.shape) : slot.cloned()
                }
            }
        }
        try load(values)
        _keyFrameEncoder = try withoutGrad { try Self.keyFrameEncoder(of: encoder, configuration: configuration) }
        return kept
    }

    /// The video tokenizer grown from this image model (`temporal_kernel: 1`): each 3-D
    /// kernel gets the image kernel in its last temporal slice (the current frame) and
    /// zeros for the frames before, so on a single frame it computes exactly what the
    /// image model did (method §2: train space on images first, then time on clips).
    package func inflated(logger: Logger) throws -> Tokenizer {
        guard configuration.temporalKernel == 1 else {
            throw TokenizerError(
                .input,
                "only an image model (temporal_kernel 1) can be inflated; this one has \(configuration.temporalKernel)")
        }
        var target = configuration
        target.temporalKernel = 3
        let video = try Tokenizer(configuration: target, logger: logger)
        var values: [String: Tensor] = [:]
        try withoutGrad {
            let mine = Dictionary(uniqueKeysWithValues: namedParameters().map { ($0.name, $0.tensor) })
            for (name, slot) in video.namedParameters() {
                guard let image = mine[name], let grown = try Self.fittedInTime(image, to: slot.shape) else {
                    throw TokenizerError(.checkpoint, "the image model has no '\(name)' of a fitting shape")
                }
                values[name] = grown  // [O, I, 1, k, k] → [O, I, kT, k, k]
            }
        }
        try video.load(values)
        try video.refreshIdentity(trained: identity.trained)
        return video
    }
}

/// Peak signal-to-noise ratio in dB between two uint8 videos of the same shape.
public func psnr(_ a: Tensor, _ b: Tensor) throws -> Double {
    let mse = try ((a.to(.float64) - b.to(.float64)).pow(2)).mean().item()
    return mse == 0 ? .infinity : 10 * log10(255 * 255 / mse)
}
