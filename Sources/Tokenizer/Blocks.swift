import Tensor

// The causal building blocks. Shapes: x [N, C, T, H, W].

/// Group normalisation applied to each frame on its own: normalising over time would let
/// later frames change earlier latents, which would break causality.
final class FrameGroupNorm: Module {
    let norm: GroupNorm

    init(groups: Int, channels: Int) throws { norm = try GroupNorm(groups: groups, channels: channels) }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        let s = x.shape  // [N, C, T, H, W]
        let frames = try x.permuted([0, 2, 1, 3, 4]).reshaped([s[0] * s[2], s[1], s[3], s[4]])
        return try norm(frames).reshaped([s[0], s[2], s[1], s[3], s[4]]).permuted([0, 2, 1, 3, 4])
    }
}

/// norm → SiLU → causal conv, twice, plus the input (through a 1×1×1 conv when widths differ).
final class ResBlock: Module {
    let norm1: FrameGroupNorm
    let conv1: Conv3d
    let norm2: FrameGroupNorm
    let conv2: Conv3d
    let skip: Conv3d?

    init(_ inChannels: Int, _ outChannels: Int, groups: Int, temporalKernel: Int, generator: Generator) throws {
        norm1 = try FrameGroupNorm(groups: groups, channels: inChannels)
        conv1 = try Conv3d(inChannels, outChannels, kernel: (temporalKernel, 3), generator: generator)
        norm2 = try FrameGroupNorm(groups: groups, channels: outChannels)
        conv2 = try Conv3d(outChannels, outChannels, kernel: (temporalKernel, 3), generator: generator)
        skip =
            inChannels == outChannels ? nil : try Conv3d(inChannels, outChannels, kernel: (1, 1), generator: generator)
    }

    func callAsFunction(_ x: Tensor, cache: CausalCache?) throws -> Tensor {
        var h = try conv1(norm1(x).silu(), cache: cache)
        h = try conv2(norm2(h).silu(), cache: cache)
        return try h + (skip.map { try $0(x, cache: cache) } ?? x)
    }
}

/// Stride-2 causal conv: H, W halve; T goes 1 + 2k → 1 + k when `temporal` (first frame alone).
final class Downsample: Module {
    let conv: Conv3d

    init(_ channels: Int, temporal: Bool, temporalKernel: Int, generator: Generator) throws {
        conv = try Conv3d(
            channels, channels, kernel: (temporalKernel, 3), stride: (temporal ? 2 : 1, 2), generator: generator)
    }

    func callAsFunction(_ x: Tensor, cache: CausalCache?) throws -> Tensor { try conv(x, cache: cache) }

    /// Whether it halves time too.
    var temporal: Bool { conv.stride.time == 2 }
}

/// Nearest-neighbour upsampling then a causal conv: H, W double; T goes 1 + k → 1 + 2k
/// when `temporal` (the first frame stays single, the rest repeat).
final class Upsample: Module {
    let conv: Conv3d
    let temporal: Bool

    init(_ channels: Int, temporal: Bool, temporalKernel: Int, generator: Generator) throws {
        conv = try Conv3d(channels, channels, kernel: (temporalKernel, 3), generator: generator)
        self.temporal = temporal
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        let s = x.shape  // [N, C, T, H, W]
        var y = try x.interpolate(size: [s[2], s[3] * 2, s[4] * 2], mode: .nearest)
        if temporal && s[2] > 1 {
            let first = try y.slice(dim: 2, 0..<1)
            let rest = try y.slice(dim: 2, 1..<s[2])  // [N, C, T−1, 2H, 2W]
            let doubled = try rest.unsqueezed(dim: 3).expanded(to: [s[0], s[1], s[2] - 1, 2, s[3] * 2, s[4] * 2])
                .reshaped([s[0], s[1], (s[2] - 1) * 2, s[3] * 2, s[4] * 2])
            y = try Tensor.cat([first, doubled], dim: 2)
        }
        return try conv(y)
    }
}
