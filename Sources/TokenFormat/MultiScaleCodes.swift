import Foundation
import Tensor

/// How bits become the features the tokenizer's decoder sees, and back.
///
/// The code of scale k is sign · m_k / √d with m_k = √(h_k·w_k / (H·W)) · decay^k; the
/// quantized latent of a frame is the sum over scales of each scale's code upsampled
/// (bilinear) to the grid. The tokenizer's quantizer, the transformer's inputs and the
/// trainer's self-correction all compute codes here, so the three agree to the bit.
public struct MultiScaleCodes: Sendable, Equatable {
    public let schedule: ScaleSchedule
    public let bitsPerToken: Int
    public let decay: Double

    /// The decay every tokenizer so far was trained with; shards written before the shard
    /// layout recorded it used this value.
    public static let standardDecay = 0.8

    public init(schedule: ScaleSchedule, bitsPerToken: Int, decay: Double = standardDecay) {
        self.schedule = schedule
        self.bitsPerToken = bitsPerToken
        self.decay = decay
    }

    public var grid: ScaleSchedule.Scale { schedule.scales[schedule.scales.count - 1] }

    /// m_k / √d for scale `k`.
    public func magnitude(scale k: Int) -> Double {
        let s = schedule.scales[k]
        return (Double(s.tokens) / Double(grid.tokens)).squareRoot() * pow(decay, Double(k))
            / Double(bitsPerToken).squareRoot()
    }

    /// The code of scale `k` from its bits: uint8 0/1 [M, d, h_k, w_k] → float32, same shape.
    public func code(bits: Tensor, scale k: Int) throws -> Tensor {
        try TokenClip.signs(of: bits) * magnitude(scale: k)
    }

    /// A scale-k tensor [M, d, h_k, w_k] upsampled (bilinear) to the grid [M, d, H, W].
    public func upsample(_ x: Tensor, scale k: Int) throws -> Tensor {
        let s = schedule.scales[k]
        return s == grid ? x : try x.interpolate(size: [grid.height, grid.width], mode: .bilinear)
    }

    /// A grid tensor [M, d, H, W] area-downsampled to scale `k` [M, d, h_k, w_k].
    public func downsample(_ x: Tensor, scale k: Int) throws -> Tensor {
        let s = schedule.scales[k]
        return s == grid ? x : try x.interpolate(size: [s.height, s.width], mode: .area)
    }

    /// Re-quantizes a residual at scale `k`: the signs of its area-downsampled values, as uint8 bits.
    public func quantize(residual: Tensor, scale k: Int) throws -> Tensor {
        try downsample(residual, scale: k).greater(0).to(.uint8)
    }

    /// The quantized latent [M, d, H, W] from per-scale bits [M, d, h_k, w_k].
    public func latent(_ bits: [Tensor]) throws -> Tensor {
        var sum: Tensor? = nil
        for (k, b) in bits.enumerated() {
            let up = try upsample(code(bits: b, scale: k), scale: k)
            sum = try sum.map { try $0 + up } ?? up
        }
        guard let sum else { throw TorchError(.operation, "no scales to build a latent from") }
        return sum
    }

    /// Token-major bits of one scale, [M, h_k·w_k, d], as the grid [M, d, h_k, w_k].
    public func grid(tokens: Tensor, scale k: Int) throws -> Tensor {
        let s = schedule.scales[k]
        let m = tokens.shape[0]
        return try tokens.transposed(1, 2).reshaped([m, bitsPerToken, s.height, s.width])
    }

    /// The grid [M, d, h_k, w_k] of one scale as tokens [M, h_k·w_k, d] (row-major within the scale).
    public func tokens(grid x: Tensor) throws -> Tensor {
        let s = x.shape
        return try x.reshaped([s[0], s[1], s[2] * s[3]]).transposed(1, 2)
    }
}
