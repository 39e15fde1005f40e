import Tensor

/// Quantized latents [N, d, T′, H′, W′] → video [N, 3, 1 + (T′−1)·τ, 16H′, 16W′] in about [−1, 1].
/// The mirror of the encoder, with nearest upsampling + conv (no transposed convs); it may be
/// wider and deeper (`decoder_base_channels`, `decoder_res_blocks`): only the encoder runs at ingest.
final class CausalDecoder: Module {
    let convIn: Conv3d
    let mid: [ResBlock]
    let levels: [Level]
    let normOut: FrameGroupNorm
    let convOut: Conv3d

    final class Level: Module {
        let blocks: [ResBlock]
        let upsample: Upsample?
        init(blocks: [ResBlock], upsample: Upsample?) {
            self.blocks = blocks
            self.upsample = upsample
        }
    }

    init(_ c: TokenizerConfiguration, generator: Generator) throws {
        let widths = c.decoderWidths
        var width = widths.last!
        convIn = try Conv3d(c.latentDim, width, kernel: (c.temporalKernel, 3), generator: generator)
        mid = try (0..<2).map { _ in
            try ResBlock(width, width, groups: c.normGroups, temporalKernel: c.temporalKernel, generator: generator)
        }
        var levels: [Level] = []
        for i in stride(from: widths.count - 1, through: 0, by: -1) {
            var blocks: [ResBlock] = []
            for _ in 0..<(c.decoderResBlocks ?? c.resBlocks) {
                blocks.append(
                    try ResBlock(
                        width, widths[i], groups: c.normGroups, temporalKernel: c.temporalKernel, generator: generator))
                width = widths[i]
            }
            // Undo downsample i − 1 when going from level i to level i − 1.
            let up =
                i > 0
                ? try Upsample(
                    width, temporal: c.temporalDownsamples.contains(i - 1),
                    temporalKernel: c.temporalKernel, generator: generator) : nil
            levels.append(Level(blocks: blocks, upsample: up))
        }
        self.levels = levels
        normOut = try FrameGroupNorm(groups: c.normGroups, channels: width)
        convOut = try Conv3d(width, 3, kernel: (c.temporalKernel, 3), generator: generator)
    }

    func callAsFunction(_ latent: Tensor) throws -> Tensor {
        var h = try convIn(latent)
        for block in mid { h = try block(h, cache: nil) }
        for level in levels {
            for block in level.blocks { h = try block(h, cache: nil) }
            if let up = level.upsample { h = try up(h) }
        }
        return try convOut(normOut(h).silu())
    }
}
