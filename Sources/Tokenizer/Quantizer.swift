import Tensor
import TokenFormat

/// Multi-scale binary spherical quantization (BSQ), per latent frame.
///
/// Each d-vector is l2-normalised; then, coarse to fine over the schedule, the residual is
/// area-downsampled to the scale, its signs become the scale's bits, the bits' code is
/// upsampled (bilinear) back to the grid and subtracted from the residual. The quantized
/// latent is the sum of the upsampled codes, so the bits alone rebuild it.
///
/// The code of scale k is sign · m_k / √d with m_k = √(h_k·w_k / (H·W)) · decay^k. Infinity
/// uses unit-norm codes at every scale; measured on normalised latents (white, smooth and
/// near-constant fields, 8×8 grid, d = 16), unit codes *raise* the residual at the 1×1 scale
/// (1.00 → 1.33 mean norm) because an average of varying unit vectors is short, and
/// overshoot at the last scale. √area matches the expected norm of an area-downsampled
/// residual, and decay 0.8 keeps every step decreasing (e.g. 1.00, 0.93, 0.81, 0.62, 0.47,
/// 0.31). With a trained encoder the magnitudes stay fixed; the encoder adapts to them.
package struct MultiScaleBSQ {
    let dim: Int
    let decay: Double

    package struct Output {
        /// Σ upsampled codes, with straight-through gradients to the features. [M, d, H, W]
        package var quantized: Tensor
        /// Bits per scale, uint8 0/1, [M, d, h_k, w_k].
        package var bits: [Tensor]
        /// Mean ‖residual‖ over positions before the first scale and after each scale.
        package var residualNorms: [Double]
        /// The l2-normalised features the quantizer approximated. [M, d, H, W]
        package var normalized: Tensor
        /// What each scale took the signs of: the area-downsampled residual. [M, d, h_k, w_k]
        /// (the trainer's entropy penalty acts on these).
        package var inputs: [Tensor]
    }

    func codes(_ schedule: ScaleSchedule) -> MultiScaleCodes {
        MultiScaleCodes(schedule: schedule, bitsPerToken: dim, decay: decay)
    }

    /// features: [M, d, H, W] (M = batch × latent frames, each frame on its own).
    func quantize(_ features: Tensor, schedule: ScaleSchedule, measure: Bool = false) throws -> Output {
        let s = features.shape
        let grid = ScaleSchedule.Scale(height: s[2], width: s[3])
        let normalized = try features / features.norm(dims: [1], keepDim: true).clamp(min: 1e-8)
        var residual = normalized
        var quantized = try Tensor.zeros(s)
        var bits: [Tensor] = []
        var inputs: [Tensor] = []
        var norms: [Double] = measure ? [try residual.norm(dims: [1]).mean().item()] : []
        let codes = codes(schedule)
        for (k, scale) in schedule.scales.enumerated() {
            let coarse =
                scale == grid ? residual : try residual.interpolate(size: [scale.height, scale.width], mode: .area)
            let positive = try coarse.greater(0)  // [M, d, h, w] bool
            let code = try (positive.to(.float32) * 2 - 1) * codes.magnitude(scale: k)
            let straightThrough = try coarse + (code - coarse).detached()  // value: code, gradient: identity
            let up =
                scale == grid
                ? straightThrough
                : try straightThrough.interpolate(size: [grid.height, grid.width], mode: .bilinear)
            residual = try residual - up.detached()
            quantized = try quantized + up
            bits.append(try positive.to(.uint8))
            inputs.append(coarse)
            if measure { norms.append(try residual.norm(dims: [1]).mean().item()) }
        }
        return Output(quantized: quantized, bits: bits, residualNorms: norms, normalized: normalized, inputs: inputs)
    }

    /// Rebuilds the quantized latent [M, d, H, W] from per-scale bits.
    func dequantize(_ bits: [Tensor], schedule: ScaleSchedule) throws -> Tensor {
        try codes(schedule).latent(bits)
    }
}
