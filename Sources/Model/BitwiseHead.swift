import Tensor

/// d independent binary logits per token (Infinity's "bitwise" classifier): the token's bits
/// are predicted jointly from one vector instead of a softmax over 2^d codes.
public final class BitwiseHead: Module {
    public let modulation: Linear  // width → 2·width (zero-initialised)
    public let output: Linear  // width → d
    let width: Int

    public init(width: Int, bits: Int, generator: Generator) throws {
        modulation = try Linear(width, 2 * width, generator: generator)
        output = try Linear(width, bits, generator: generator)
        self.width = width
        try withoutGrad {
            try modulation.weight.mul_(0)
            try modulation.bias!.mul_(0)
        }
    }

    /// x: [B, L, W], condition: [B, W] → logits [B, L, d] (bit = 1 when the logit is positive).
    public func callAsFunction(_ x: Tensor, condition: Tensor) throws -> Tensor {
        let m = try modulation(condition.silu()).unsqueezed(dim: 1).split(size: width, dim: 2)
        return try output(modulate(x, shift: m[0], scale: m[1]))
    }
}
