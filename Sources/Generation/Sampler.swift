import Foundation
import Model
import Tensor
import TokenFormat

/// KV-cached next-frame, next-scale sampling (method §5): one forward per (frame, scale)
/// block, only that block's tokens fed, the cache holding every block before it.
///
/// With guidance the batch is doubled — conditional rows first, unconditional (the learned
/// empty caption) second — and the block's bit logits are mixed with the schedule's γ, divided
/// by the temperature, and each bit is drawn from its sigmoid; top-p per bit makes a bit
/// whose likelier value has probability ≥ `topP` deterministic (for two outcomes that is what
/// nucleus sampling means). Frames given as a prefix (image-to-video, video-to-video) are fed
/// as they are, so the model continues them.
public final class Sampler {
    public let model: VideoARTransformer

    public struct Options: Sendable {
        public var guidance: GuidanceSchedule
        public var temperature: Double
        public var topP: Double
        public var seed: UInt64

        public init(guidance: GuidanceSchedule = .t2v, temperature: Double = 1, topP: Double = 0.97, seed: UInt64 = 0) {
            self.guidance = guidance
            self.temperature = temperature
            self.topP = topP
            self.seed = seed
        }
    }

    public init(model: VideoARTransformer) { self.model = model }

    /// Samples `captions.count` clips of `layout`.
    /// - Parameters:
    ///   - prefix: uint8 bits [B or 1, P, L_f, d] of the first P latent frames to keep (nil: sample all).
    ///   - useCache: false recomputes every earlier block at each step (what a KV cache saves;
    ///     `videoar bench generate` times both).
    ///   - window: latent frames each block attends to, its own included (nil: all). Frames that
    ///     fall out of the window leave the KV cache, so a layout longer than the model was
    ///     trained on is sampled with the context it was trained with — the sliding-window
    ///     alternative to frame re-encoding.
    ///   - progress: called after each block with (blocks done, blocks in all).
    /// - Returns: uint8 bits [B, T′, L_f, d].
    public func sample(
        captions: [String?], layout: SequenceLayout, codes: MultiScaleCodes, options: Options,
        prefix: Tensor? = nil, useCache: Bool = true, window: Int? = nil, progress: (Int, Int) -> Void = { _, _ in }
    ) throws -> Tensor {
        if let window {
            guard window >= 1 else { throw ModelError(.input, "the window must hold at least one latent frame") }
            guard useCache else { throw ModelError(.input, "a sliding window needs the KV cache") }
        }
        guard options.temperature > 0 else { throw ModelError(.input, "the temperature must be positive") }
        guard (0.5...1).contains(options.topP) else { throw ModelError(.input, "top-p must be in [0.5, 1]") }
        guard codes.bitsPerToken == model.configuration.bitsPerToken else {
            throw ModelError(
                .input,
                "the tokenizer has \(codes.bitsPerToken) bits per token; the model predicts \(model.configuration.bitsPerToken)"
            )
        }
        let b = captions.count
        let guided = options.guidance.isGuided
        let rows = guided ? 2 * b : b
        let generator = Generator(seed: options.seed)
        let next = NextScaleInputs(codes: codes)
        let scales = layout.scalesPerFrame
        let given = prefix?.shape[1] ?? 0
        guard given <= layout.frames else {
            throw ModelError(.input, "the prefix has \(given) latent frames; the clip has \(layout.frames)")
        }
        return try withoutGrad {
            let condition = try model.captions(guided ? captions + captions.map { _ in nil } : captions)
            let cache = KVCache(depth: model.configuration.depth)
            var seen: [Tensor] = []  // every block's inputs so far (without a cache)
            var frames: [Tensor] = []
            var previous: Tensor? = nil  // [rows, d, H, W]
            for t in 0..<layout.frames {
                if let window, t >= window {
                    try cache.evict(before: layout.range(frame: t - window + 1, scale: 0).lowerBound)
                }
                var sum: Tensor? = nil
                var tokens: [Tensor] = []
                for k in 0..<scales {
                    let input: Tensor? =
                        t == 0 && k == 0 ? nil : try next.input(runningSum: k == 0 ? previous! : sum!, scale: k)
                    let logits: Tensor
                    if useCache {
                        logits = try model.step(
                            inputs: input, frame: t, scale: k, condition: condition, layout: layout, cache: cache)
                    } else {
                        let n = layout.range(frame: t, scale: k).count
                        seen.append(try input ?? Tensor.zeros([rows, n, codes.bitsPerToken]))
                        let all = try model.prefixLogits(
                            inputs: Tensor.cat(seen, dim: 1), condition: condition, layout: layout,
                            count: layout.range(frame: t, scale: k).upperBound)
                        logits = try all.slice(dim: 1, (all.shape[1] - n)..<all.shape[1])
                    }
                    var bits: Tensor  // [B, n, d] uint8
                    if t < given, let prefix {
                        let start = codes.schedule.offsets[k]
                        let range = start..<(start + codes.schedule.scales[k].tokens)
                        bits = try prefix.select(dim: 1, t).slice(dim: 1, range)
                        if bits.shape[0] != b { bits = try bits.expanded(to: [b] + Array(bits.shape.dropFirst())) }
                    } else {
                        let gamma = options.guidance.gamma(frame: t, frames: layout.frames, scale: k, scales: scales)
                        var mixed = try logits.slice(dim: 0, 0..<b)
                        if guided {
                            mixed = try mixed * gamma + logits.slice(dim: 0, b..<rows) * (1 - gamma)
                        }
                        let p = try (mixed / options.temperature).sigmoid()
                        let drawn = try p.bernoulli(generator: generator)
                        // top-p per bit: a bit whose likelier value has probability ≥ topP takes that value.
                        let sure = try (p - 0.5).abs().greaterOrEqual(options.topP - 0.5)
                        bits = try drawn.replacing(where: sure, with: p.greater(0.5).to(.float32)).to(.uint8)
                    }
                    tokens.append(bits)
                    let grid = try codes.grid(tokens: bits.contiguous(), scale: k)
                    let both = guided ? try Tensor.cat([grid, grid], dim: 0) : grid
                    sum = try next.accumulate(sum, bits: both, scale: k)
                    progress(t * scales + k + 1, layout.frames * scales)
                }
                previous = sum
                frames.append(try Tensor.cat(tokens, dim: 1))  // [B, L_f, d]
            }
            return try Tensor.stack(frames, dim: 1)
        }
    }
}
