import Tensor

/// Who made a set of tokens: the content hash of the tokenizer's configuration and weights.
public struct TokenizerIdentity: Sendable, Equatable, CustomStringConvertible {
    /// 16 hex digits of SHA-256(configuration JSON ‖ every parameter's bytes, in name order).
    public let id: String
    public let name: String
    /// False for the deterministic seeded initialisation: its tokens are noise.
    public let trained: Bool

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
    /// uint8 0/1, [T′, L, d] with L = tokens per frame over all scales (scale-major, then
    /// row-major within a scale).
    public let bits: Tensor

    /// Tokens over the whole clip.
    public var tokenCount: Int { latentFrames * schedule.tokensPerFrame }
    public var bitCount: Int { tokenCount * bitsPerToken }

    /// Bits of latent frame `t` at scale `k`, uint8 [d, h_k, w_k].
    public func bits(frame t: Int, scale k: Int) throws -> Tensor {
        let s = schedule.scales[k]
        let start = schedule.offsets[k]
        return try bits.select(dim: 0, t).slice(dim: 0, start..<(start + s.tokens))  // [h·w, d]
            .transposed(0, 1).reshaped([bitsPerToken, s.height, s.width])
    }
}
