import Tensor
import TokenFormat

/// The inputs of next-scale prediction (method §3), computed from bits.
///
/// Within frame t, scale k's input is the running sum of the upsampled codes of scales < k,
/// area-downsampled to (h_k, w_k); scale 0 of frame t > 0 starts from frame t − 1's whole
/// sum. The trainer feeds it possibly corrupted bits (self-correction); the sampler, the
/// bits it has drawn. Shapes: M = batch, grid H × W, d bits.
public struct NextScaleInputs {
    public let codes: MultiScaleCodes

    public init(codes: MultiScaleCodes) { self.codes = codes }

    /// Input of scale `k` from the running sum [M, d, H, W] → tokens [M, h_k·w_k, d].
    public func input(runningSum: Tensor, scale k: Int) throws -> Tensor {
        try codes.tokens(grid: codes.downsample(runningSum, scale: k))
    }

    /// Adds scale `k`'s bits [M, d, h_k, w_k] to the running sum [M, d, H, W].
    public func accumulate(_ runningSum: Tensor?, bits: Tensor, scale k: Int) throws -> Tensor {
        let up = try codes.upsample(codes.code(bits: bits, scale: k), scale: k)
        return try runningSum.map { try $0 + up } ?? up
    }
}
