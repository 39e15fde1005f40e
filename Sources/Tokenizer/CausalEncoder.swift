import Tensor

/// Video [N, 3, T, H, W] in [−1, 1] → latent features [N, d, 1 + (T−1)/τ, H/16, W/16].
/// Causal in time: latent frame t depends on input frames up to its own.
final class CausalEncoder: Module {
    let convIn: Conv3d
    let levels: [Level]
    let mid: [ResBlock]
    let normOut: FrameGroupNorm
    let convOut: Conv3d

    final class Level: Module {
        let blocks: [ResBlock]
        let downsample: Downsample?
        init(blocks: [ResBlock], downsample: Downsample?) {
            self.blocks = blocks
            self.downsample = downsample
        }
    }

    init(_ c: TokenizerConfiguration, generator: Generator) throws {
        let widths = c.encoderWidths
        convIn = try Conv3d(3, widths[0], kernel: (c.encoderTemporalKernel(level: 0), 3), generator: generator)
        var levels: [Level] = []
        var width = widths[0]
        for (i, target) in widths.enumerated() {
            var blocks: [ResBlock] = []
            for _ in 0..<c.resBlocks {
                blocks.append(
                    try ResBlock(
                        width, target, groups: c.normGroups, temporalKernel: c.encoderTemporalKernel(level: i),
                        generator: generator))
                width = target
            }
            let temporal = c.temporalDownsamples.contains(i)
            let down =
                i < widths.count - 1
                ? try Downsample(
                    width, temporal: temporal,
                    temporalKernel: c.encoderTemporalKernel(level: i, temporalDownsample: temporal),
                    generator: generator) : nil
            levels.append(Level(blocks: blocks, downsample: down))
        }
        self.levels = levels
        mid = try (0..<2).map { _ in
            try ResBlock(width, width, groups: c.normGroups, temporalKernel: c.temporalKernel, generator: generator)
        }
        normOut = try FrameGroupNorm(groups: c.normGroups, channels: width)
        convOut = try Conv3d(width, c.latentDim, kernel: (c.temporalKernel, 3), generator: generator)
    }

    /// With a `cache`, successive chunks continue one video (see `Conv3d`).
    func callAsFunction(_ video: Tensor, cache: CausalCache? = nil) throws -> Tensor {
        var h = try convIn(video, cache: cache)
        for level in levels {
            for block in level.blocks { h = try block(h, cache: cache) }
            if let down = level.downsample { h = try down(h, cache: cache) }
        }
        for block in mid { h = try block(h, cache: cache) }
        return try convOut(normOut(h).silu(), cache: cache)
    }
}
