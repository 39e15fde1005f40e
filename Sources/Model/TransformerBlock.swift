import Tensor

/// One transformer block with adaptive LayerNorm (DiT's adaLN-Zero): the caption's vector
/// sets a shift, scale and gate for the attention and MLP branches; gates start at zero, so
/// every block begins as the identity.
public final class TransformerBlock: Module {
    public let attention: SelfAttention
    public let fc1: Linear  // width → hidden
    public let fc2: Linear  // hidden → width
    public let modulation: Linear  // width → 6·width (zero-initialised)
    let width: Int

    public init(width: Int, heads: Int, mlpRatio: Double, generator: Generator) throws {
        let hidden = Int((Double(width) * mlpRatio).rounded())
        attention = try SelfAttention(width: width, heads: heads, generator: generator)
        fc1 = try Linear(width, hidden, generator: generator)
        fc2 = try Linear(hidden, width, generator: generator)
        modulation = try Linear(width, 6 * width, generator: generator)
        self.width = width
        try withoutGrad {
            try modulation.weight.mul_(0)
            try modulation.bias!.mul_(0)
        }
    }

    /// x: [B, L, W], condition: [B, W] → [B, L, W].
    public func callAsFunction(
        _ x: Tensor, condition: Tensor, rope: (cos: Tensor, sin: Tensor), bias: Tensor?, mask: Tensor?,
        cache: KVCache.Layer?
    ) throws -> Tensor {
        let m = try modulation(condition.silu()).unsqueezed(dim: 1).split(size: width, dim: 2)  // 6 × [B, 1, W]
        let a = try modulate(x, shift: m[0], scale: m[1])
        var h = try x + m[2] * attention(a, rope: rope, bias: bias, mask: mask, cache: cache)
        let f = try modulate(h, shift: m[3], scale: m[4])
        h = try h + m[5] * fc2(fc1(f).gelu(tanhApproximation: true))
        return h
    }
}

/// LayerNorm without its own affine, then the condition's scale and shift: x̂·(1 + scale) + shift.
func modulate(_ x: Tensor, shift: Tensor, scale: Tensor) throws -> Tensor {
    let w = x.shape[x.rank - 1]
    return try x.layerNorm([w], weight: nil, bias: nil, eps: 1e-6) * (scale + 1) + shift
}
