import Tensor

/// Multi-head self-attention with rotary positions, an additive mask and an optional KV cache.
public final class SelfAttention: Module {
    public let qkv: Linear  // width → 3·width
    public let proj: Linear  // width → width
    let heads: Int

    public init(width: Int, heads: Int, generator: Generator) throws {
        qkv = try Linear(width, 3 * width, generator: generator)
        proj = try Linear(width, width, generator: generator)
        self.heads = heads
    }

    /// x: [B, L, W] → [B, L, W]. `rope` rotates the new tokens' queries and keys; `bias`
    /// ([L, L], or [L, Lcache + L]) and `mask` ([B, 1, L, Lk], true = may attend) restrict
    /// attention; with `cache`, keys and values of earlier calls are attended to and this
    /// call's are appended — the sampler's one forward per block.
    public func callAsFunction(
        _ x: Tensor, rope: (cos: Tensor, sin: Tensor), bias: Tensor? = nil, mask: Tensor? = nil,
        cache: KVCache.Layer? = nil
    ) throws -> Tensor {
        let s = x.shape  // [B, L, W]
        let (b, l, w) = (s[0], s[1], s[2])
        let parts = try qkv(x).reshaped([b, l, 3, heads, w / heads]).permuted([2, 0, 3, 1, 4])  // [3, B, H, L, hd]
        let q = try RotaryEmbedding.rotate(parts.select(dim: 0, 0), cos: rope.cos, sin: rope.sin)
        var k = try RotaryEmbedding.rotate(parts.select(dim: 0, 1), cos: rope.cos, sin: rope.sin)
        var v = try parts.select(dim: 0, 2)
        if let cache {
            if let past = cache.keys, let pastValues = cache.values {
                k = try Tensor.cat([past, k], dim: 2)
                v = try Tensor.cat([pastValues, v], dim: 2)
            }
            cache.keys = k
            cache.values = v
        }
        FLOPCounter.add(4 * Double(b * heads * l * k.shape[2] * (w / heads)))
        let y = try attention(query: q, key: k, value: v, mask: mask, bias: bias)  // [B, H, L, hd]
        return try proj(y.transposed(1, 2).reshaped([b, l, w]))
    }
}

/// Keys and values of the blocks a sampler has already run, per layer.
public final class KVCache {
    public final class Layer {
        var keys: Tensor?
        var values: Tensor?
    }
    public let layers: [Layer]
    /// Tokens dropped from the front by `evict(before:)`: positions stay those of the whole sequence.
    public private(set) var evicted = 0
    public init(depth: Int) { layers = (0..<depth).map { _ in Layer() } }
    /// Tokens run so far (cached or evicted): the position the next block starts at.
    public var count: Int { evicted + (layers.first?.keys?.shape[2] ?? 0) }

    /// Forgets every token before sequence position `token`, so later blocks attend only to
    /// what is left — a sliding window over latent frames for videos longer than the model
    /// was trained on. Keys keep the rotation of their original positions, so attention
    /// still sees the right relative offsets.
    public func evict(before token: Int) throws {
        let drop = token - evicted
        guard drop > 0 else { return }
        guard drop <= count - evicted else {
            throw ModelError(.input, "cannot evict up to token \(token): the cache holds tokens \(evicted)..<\(count)")
        }
        for layer in layers {
            guard let keys = layer.keys, let values = layer.values else { continue }
            let n = keys.shape[2]
            layer.keys = try keys.slice(dim: 2, drop..<n).contiguous()
            layer.values = try values.slice(dim: 2, drop..<n).contiguous()
        }
        evicted = token
    }
}
