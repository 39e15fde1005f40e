import Foundation
import Tensor
import TextEncoder
import TokenFormat

/// The autoregressive transformer (method §3): next-frame, next-scale prediction of bits.
///
/// Input of block (t, k) — built by `NextScaleInputs` from the bits before it — is projected
/// d → width; a learned scale embedding is added; frame 0's first block is the start token
/// (caption vector + a learned offset). Blocks attend block-causally with Multi-scale
/// Temporal RoPE; the caption conditions every block through adaLN; the head gives d binary
/// logits per token. `callAsFunction` is the teacher-forced pass over a whole clip, `step`
/// the sampler's pass over one block with a KV cache: both run the same layers, so cached
/// logits equal teacher-forced ones.
public final class VideoARTransformer: Module {
    public let configuration: ModelConfiguration
    public let captions: CaptionEncoder
    public let inputProjection: Linear  // d → W
    public let scaleEmbedding: Embedding  // [max scales, W]
    public let start: Tensor  // [W]
    public let blocks: [TransformerBlock]
    public let head: BitwiseHead
    let rotary: RotaryEmbedding
    private var _layouts: [String: LayoutTensors] = [:]
    private var _biases: [String: Tensor] = [:]
    /// The metadata of the checkpoint this model was loaded from (empty for a new model).
    public internal(set) var checkpointMetadata: [String: String] = [:]

    /// What a layout needs on every call, built once: RoPE tables and scale indices. (The
    /// block-causal bias, [L, L], is built only for teacher-forced passes: `blockBias(_:)`; a
    /// sampler never needs it, and for a long video it would be the largest tensor.)
    struct LayoutTensors {
        var cos: Tensor  // [L, hd/2]
        var sin: Tensor
        var scales: Tensor  // [L] int64
    }

    public init(_ configuration: ModelConfiguration) throws {
        try configuration.validate()
        self.configuration = configuration
        let g = Generator(seed: configuration.seed)
        let w = configuration.width
        let pretrained =
            configuration.captionEncoder == .miniLM ? try MiniLM(folder: configuration.captionEncoderFolder) : nil
        captions = try CaptionEncoder(
            vocabulary: configuration.captionVocabulary, maxWords: configuration.captionWords, width: w,
            pretrained: pretrained, generator: g)
        inputProjection = try Linear(configuration.bitsPerToken, w, generator: g)
        scaleEmbedding = try Embedding(configuration.maxScales, w, generator: g)
        start = try Initializer.normal([w], std: 0.02, generator: g)
        blocks = try (0..<configuration.depth).map { _ in
            try TransformerBlock(width: w, heads: configuration.heads, mlpRatio: configuration.mlpRatio, generator: g)
        }
        head = try BitwiseHead(width: w, bits: configuration.bitsPerToken, generator: g)
        rotary = RotaryEmbedding(
            headDim: configuration.headDim, timeShare: configuration.ropeTimeShare, base: configuration.ropeBase,
            kind: configuration.rope)
    }

    func tensors(_ layout: SequenceLayout) throws -> LayoutTensors {
        let key = "\(layout.frames)|\(layout.schedule)"
        if let cached = _layouts[key] { return cached }
        guard layout.scalesPerFrame <= configuration.maxScales else {
            throw ModelError(
                .input,
                "this layout has \(layout.scalesPerFrame) scales per frame; the model embeds at most \(configuration.maxScales)"
            )
        }
        let rope = try rotary.tables(layout.positions)
        let made = LayoutTensors(
            cos: rope.cos, sin: rope.sin, scales: try Tensor(layout.scale.map(Int64.init), shape: [layout.count]))
        _layouts[key] = made
        return made
    }

    func blockBias(_ layout: SequenceLayout) throws -> Tensor {
        let key = "\(layout.frames)|\(layout.schedule)"
        if let cached = _biases[key] { return cached }
        let made = try layout.blockCausalBias()
        _biases[key] = made
        return made
    }

    /// The start block's tokens: [B, n0, W].
    func startTokens(_ condition: Tensor, count: Int) throws -> Tensor {
        let s = condition.shape
        return try (condition + start).unsqueezed(dim: 1).expanded(to: [s[0], count, s[1]])
    }

    /// Input features [B, n, d] → embeddings [B, n, W]. Features are sums of codes of size
    /// about 1/√d per element, so they are scaled by √d to unit size first.
    func embed(_ features: Tensor) throws -> Tensor {
        try inputProjection(features * Double(configuration.bitsPerToken).squareRoot())
    }

    /// Teacher-forced logits for a whole clip.
    /// - Parameters:
    ///   - inputs: [B, L, d] input features per token (the start block's rows are ignored).
    ///   - condition: [B, W] caption vectors (`captions(_:)`).
    ///   - mask: optional [B, 1, L, L] key mask (the Random Frame Mask), true = may attend.
    /// - Returns: logits [B, L, d].
    public func callAsFunction(inputs: Tensor, condition: Tensor, layout: SequenceLayout, mask: Tensor? = nil) throws
        -> Tensor
    {
        let t = try tensors(layout)
        let n0 = layout.startTokens
        let embedded = try embed(inputs.slice(dim: 1, n0..<layout.count))
        var x = try Tensor.cat([startTokens(condition, count: n0), embedded], dim: 1)  // [B, L, W]
        x = try x + scaleEmbedding(t.scales)
        // One additive bias for every layer: the block-causal −∞ and, with a frame mask, its −∞ too.
        let causal = try blockBias(layout)
        let bias = try mask.map { try causal.maskedFill($0.logicalNot(), -Double.infinity) } ?? causal
        for block in blocks {
            x = try block(x, condition: condition, rope: (t.cos, t.sin), bias: bias, mask: nil, cache: nil)
        }
        return try head(x, condition: condition)
    }

    /// Teacher-forced logits of the first `count` tokens only (a prefix of the layout): what a
    /// sampler without a KV cache recomputes at every block. inputs: [B, count, d] → [B, count, d].
    public func prefixLogits(inputs: Tensor, condition: Tensor, layout: SequenceLayout, count: Int) throws -> Tensor {
        let t = try tensors(layout)
        let n0 = min(layout.startTokens, count)
        var x = try startTokens(condition, count: n0)
        if count > n0 { x = try Tensor.cat([x, embed(inputs.slice(dim: 1, n0..<count))], dim: 1) }
        x = try x + scaleEmbedding(t.scales.slice(dim: 0, 0..<count))
        let rope = (try t.cos.slice(dim: 0, 0..<count), try t.sin.slice(dim: 0, 0..<count))
        let bias = try blockBias(layout).slice(dim: 0, 0..<count).slice(dim: 1, 0..<count)
        for block in blocks {
            x = try block(x, condition: condition, rope: rope, bias: bias, mask: nil, cache: nil)
        }
        return try head(x, condition: condition)
    }

    /// Logits of block (frame, scale) alone, attending to the blocks already in `cache`
    /// (which must be exactly the blocks before it) and adding this block to it.
    /// - Parameter inputs: [B, n, d] the block's input features; ignored for the start block.
    /// - Returns: logits [B, n, d].
    public func step(
        inputs: Tensor?, frame: Int, scale: Int, condition: Tensor, layout: SequenceLayout, cache: KVCache
    ) throws -> Tensor {
        let t = try tensors(layout)
        let range = layout.range(frame: frame, scale: scale)
        guard cache.count == range.lowerBound else {
            throw ModelError(
                .input,
                "the cache holds \(cache.count) tokens; block (\(frame), \(scale)) starts at \(range.lowerBound)")
        }
        var x: Tensor
        if frame == 0, scale == 0 {
            x = try startTokens(condition, count: range.count)
        } else {
            guard let inputs else { throw ModelError(.input, "block (\(frame), \(scale)) needs input features") }
            x = try embed(inputs)
        }
        x = try x + scaleEmbedding(t.scales.slice(dim: 0, range))
        let rope = (try t.cos.slice(dim: 0, range), try t.sin.slice(dim: 0, range))
        for (block, layer) in zip(blocks, cache.layers) {
            // No mask: the cache holds only earlier blocks, and a block sees all of itself.
            x = try block(x, condition: condition, rope: rope, bias: nil, mask: nil, cache: layer)
        }
        return try head(x, condition: condition)
    }
}
