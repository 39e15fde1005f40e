import Tensor

/// Who made a set of tokens: the content hash of the tokenizer's configuration and weights.
public struct TokenizerIdentity: Sendable, Equatable, CustomStringConvertible {
    /// 16 hex digits of SHA-256(configuration JSON ‖ every parameter's bytes, in name order).
    public let id: String
    public let name: String
    /// False for the deterministic seeded initialisation: its tokens are noise.
    public let trained: Bool

    public init(id: String, name: String, trained: Bool) {
        self.id = id
        self.name = name
        self.trained = trained
    }

    /// "cpu-small 1a2b3c4d5e6f7a8b (UNTRAINED: seeded initialisation, tokens are not meaningful)".
    public var description: String {
        "\(name) \(id)" + (trained ? "" : " (UNTRAINED: seeded initialisation, tokens are not meaningful)")
    }
}

/// The tokens of one clip: for every latent frame, the bits of every scale, coarse to fine.
public struct TokenClip: @unchecked Sendable {
    public let tokenizer: TokenizerIdentity
    /// Input frames T, and the latent grid T′ × H′ × W′.
    public let frames: Int
    public let latentFrames: Int
    public let latentHeight: Int
    public let latentWidth: Int
    public let schedule: ScaleSchedule
    /// d.
    public let bitsPerToken: Int
    /// The tokenizer's code decay (see `MultiScaleCodes`): needed to turn the bits back into features.
    public let codeDecay: Double
    /// uint8 0/1, [T′, L, d] with L = tokens per frame over all scales (scale-major, then
    /// row-major within a scale).
    public let bits: Tensor

    /// Tokens from anywhere — the tokenizer's encoder, a shard row, or a sampler's drawn bits —
    /// checked against the grid and the schedule, so a wrong shape is an error here rather
    /// than garbage when decoded.
    public init(
        tokenizer: TokenizerIdentity, frames: Int, latentFrames: Int, latentHeight: Int, latentWidth: Int,
        schedule: ScaleSchedule, bitsPerToken: Int, codeDecay: Double = MultiScaleCodes.standardDecay, bits: Tensor
    ) throws {
        let expected = [latentFrames, schedule.tokensPerFrame, bitsPerToken]
        guard bits.shape == expected else {
            throw TorchError(.format, "token bits have shape \(bits.shape); this layout needs \(expected)")
        }
        guard schedule.scales.last == ScaleSchedule.Scale(height: latentHeight, width: latentWidth) else {
            throw TorchError(
                .format, "the scale schedule (\(schedule)) must end at the latent grid \(latentHeight)×\(latentWidth)")
        }
        self.tokenizer = tokenizer
        self.frames = frames
        self.latentFrames = latentFrames
        self.latentHeight = latentHeight
        self.latentWidth = latentWidth
        self.schedule = schedule
        self.bitsPerToken = bitsPerToken
        self.codeDecay = codeDecay
        self.bits = bits
    }

    /// Bits ↔ features for this clip's schedule.
    public var codes: MultiScaleCodes {
        MultiScaleCodes(schedule: schedule, bitsPerToken: bitsPerToken, decay: codeDecay)
    }

    /// Bits of every latent frame at scale `k` as grids, uint8 [T′, d, h_k, w_k].
    public func grids(scale k: Int) throws -> Tensor {
        try codes.grid(tokens: bits(scale: k), scale: k)
    }

    /// Tokens over the whole clip.
    public var tokenCount: Int { latentFrames * schedule.tokensPerFrame }
    public var bitCount: Int { tokenCount * bitsPerToken }

    /// Bits of every latent frame at scale `k`, uint8 [T′, h_k·w_k, d]: the transformer's
    /// targets for that scale, for all frames at once.
    public func bits(scale k: Int) throws -> Tensor {
        let start = schedule.offsets[k]
        return try bits.slice(dim: 1, start..<(start + schedule.scales[k].tokens))
    }

    /// ±1 codes (bit 1 → +1, bit 0 → −1) as float32, shaped like `bits`: what the model's input
    /// layers and the quantizer multiply by each scale's code magnitude.
    public static func signs(of bits: Tensor) throws -> Tensor {
        try bits.to(.float32) * 2 - 1
    }

    /// Bits of latent frame `t` at scale `k`, uint8 [d, h_k, w_k].
    public func bits(frame t: Int, scale k: Int) throws -> Tensor {
        let s = schedule.scales[k]
        let start = schedule.offsets[k]
        return try bits.select(dim: 0, t).slice(dim: 0, start..<(start + s.tokens))  // [h·w, d]
            .transposed(0, 1).reshaped([bitsPerToken, s.height, s.width])
    }
}
