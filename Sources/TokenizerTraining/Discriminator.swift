import Tensor

/// A 3-D patch discriminator: strided convolutions over [N, 3, T, H, W] give a grid of
/// real/fake scores, each judging one space-time patch (so it also sees flicker and
/// motion, not only single frames). It may look at the whole clip: only the tokenizer
/// must be causal. On single pictures (T = 1) the same weights judge images.
final class PatchDiscriminator: Module {
    let convIn: Conv3d
    let layers: [Layer]
    let convOut: Conv3d

    final class Layer: Module {
        let conv: Conv3d
        let norm: GroupNorm
        init(_ inChannels: Int, _ outChannels: Int, generator: Generator) throws {
            conv = try Conv3d(
                inChannels, outChannels, kernel: (3, 3), stride: (2, 2), causal: false, generator: generator)
            norm = try GroupNorm(groups: min(8, outChannels), channels: outChannels)
        }
        /// Halves T too (17 → 9 → 5 → 3); a single frame stays single.
        func callAsFunction(_ x: Tensor) throws -> Tensor { try norm(conv(x)).leakyRelu(0.2) }
    }

    init(_ c: TokenizerTrainingConfiguration.DiscriminatorConfiguration, generator: Generator) throws {
        convIn = try Conv3d(3, c.baseChannels, kernel: (3, 3), causal: false, generator: generator)
        var width = c.baseChannels
        var layers: [Layer] = []
        for _ in 0..<c.layers {
            layers.append(try Layer(width, min(width * 2, 8 * c.baseChannels), generator: generator))
            width = min(width * 2, 8 * c.baseChannels)
        }
        self.layers = layers
        convOut = try Conv3d(width, 1, kernel: (3, 3), causal: false, generator: generator)
    }

    /// [N, 3, T, H, W] → scores [N, 1, T″, H/2^L, W/2^L].
    func callAsFunction(_ x: Tensor) throws -> Tensor {
        var h = try convIn(x).leakyRelu(0.2)
        for layer in layers { h = try layer(h) }
        return try convOut(h)
    }
}
