import Tensor

/// Video [N, 3, T, H, W] in [−1, 1] → latent features [N, d, 1 + (T−1)/τ, H/16, W/16].
/// Causal in time: latent frame t depends on input frames up to its own.
final class CausalEncoder: Module {
    let convIn: Conv3d
    let levels: [Level]
    /// Leading levels run frame by frame: the picture levels (`encoder_picture_levels`) up to
    /// the first temporal downsample, which needs the frames together.
    let framewiseLevels: Int
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
        let firstTemporal = (c.temporalDownsamples.min() ?? widths.count - 1) + 1
        framewiseLevels = c.temporalKernel == 1 ? 0 : min(c.encoderPictureLevels ?? 0, firstTemporal)
        mid = try (0..<2).map { _ in
            try ResBlock(width, width, groups: c.normGroups, temporalKernel: c.temporalKernel, generator: generator)
        }
        normOut = try FrameGroupNorm(groups: c.normGroups, channels: width)
        convOut = try Conv3d(width, c.latentDim, kernel: (c.temporalKernel, 3), generator: generator)
    }

    /// With a `cache`, successive chunks continue one video (see `Conv3d`).
    func callAsFunction(_ video: Tensor, cache: CausalCache? = nil) throws -> Tensor {
        var h: Tensor
        if framewiseLevels > 0 {
            // The picture levels see one frame each, so running them frame by frame is exact — and
            // keeps a full-resolution frame's activations in cache (README, "Picture levels").
            h = try Tensor.cat(video.split(size: 1, dim: 2).map { try picture($0, cache: cache) }, dim: 2)
        } else {
            h = try convIn(video, cache: cache)
        }
        for (i, level) in levels.enumerated() {
            if i >= framewiseLevels { for block in level.blocks { h = try block(h, cache: cache) } }
            if let down = level.downsample, i >= framewiseLevels || down.temporal { h = try down(h, cache: cache) }
        }
        for block in mid { h = try block(h, cache: cache) }
        return try convOut(normOut(h).silu(), cache: cache)
    }

    /// The input conv and the frame-by-frame levels (all but a temporal downsample) on one frame [N, 3, 1, H, W].
    private func picture(_ frame: Tensor, cache: CausalCache?) throws -> Tensor {
        var h = try convIn(frame, cache: cache)
        for level in levels.prefix(framewiseLevels) {
            for block in level.blocks { h = try block(h, cache: cache) }
            if let down = level.downsample, !down.temporal { h = try down(h, cache: cache) }
        }
        return h
    }
}
