import Model
import Tensor

/// Bitwise binary cross-entropy over a clip's tokens, with per-scale weights, and the
/// per-scale / per-frame accuracies the logs report.
struct BitLoss {
    let layout: SequenceLayout
    /// [1, L, 1]: each token's weight; they sum to 1 over a clip.
    let tokenWeights: Tensor
    /// [L, K] and [L, T′] one-hot maps from tokens to their scale and frame.
    let scaleMap: Tensor
    let frameMap: Tensor

    init(layout: SequenceLayout, scheme: ModelTrainingConfiguration.LossWeighting.Scheme) throws {
        self.layout = layout
        let scales = layout.schedule.scales
        let frames = layout.frames
        let lambda: [Double] = scales.map { s in
            switch scheme {
            case .tokens: Double(s.tokens)
            case .sqrt: Double(s.tokens).squareRoot()
            case .scales: 1
            }
        }
        let sum = lambda.reduce(0, +)
        // Scale k's share λ_k / Σλ, spread over its tokens in every frame.
        let perToken = layout.scale.map { k in Float(lambda[k] / sum / Double(scales[k].tokens * frames)) }
        tokenWeights = try Tensor(perToken, shape: [1, layout.count, 1])
        var s = [Float](repeating: 0, count: layout.count * scales.count)
        var f = [Float](repeating: 0, count: layout.count * frames)
        for i in 0..<layout.count {
            s[i * scales.count + layout.scale[i]] = 1
            f[i * frames + layout.frame[i]] = 1
        }
        scaleMap = try Tensor(s, shape: [layout.count, scales.count])
        frameMap = try Tensor(f, shape: [layout.count, frames])
    }

    /// Elementwise BCE of logits against 0/1 targets: softplus(x) − x·y, stable for any x.
    static func elementwise(logits x: Tensor, targets y: Tensor) throws -> Tensor {
        try x.relu() - x * y + (-x.abs()).exp().add(1).log()
    }

    /// The weighted training loss (a scalar): Σ_tokens w_token · mean over bits, averaged over the batch.
    func loss(logits: Tensor, targets: Tensor) throws -> Tensor {
        let perToken = try Self.elementwise(logits: logits, targets: targets).mean(dims: [2], keepDim: true)  // [B, L, 1]
        return try (perToken * tokenWeights).sum(dims: [1, 2]).mean()
    }

    struct Metrics {
        /// Mean BCE per bit (nats), every bit counted once.
        var nll: Double
        var accuracy: Double
        var scaleNLL: [Double]
        var scaleAccuracy: [Double]
        var frameAccuracy: [Double]
    }

    /// Per-bit NLL and accuracy overall, per scale and per latent frame (no gradients).
    func metrics(logits: Tensor, targets: Tensor) throws -> Metrics {
        try withoutGrad {
            let x = try logits.detached()
            let nll = try Self.elementwise(logits: x, targets: targets).mean(dims: [0, 2])  // [L]
            let correct = try x.greater(0).to(.float32).equal(targets).to(.float32).mean(dims: [0, 2])  // [L]
            func grouped(_ v: Tensor, _ map: Tensor) throws -> [Double] {
                let sums: [Float] = try v.unsqueezed(dim: 0).matmul(map).scalars()
                let counts: [Float] = try map.sum(dims: [0]).scalars()
                return zip(sums, counts).map { Double($0 / max($1, 1)) }
            }
            return Metrics(
                nll: try nll.mean().item(), accuracy: try correct.mean().item(),
                scaleNLL: try grouped(nll, scaleMap), scaleAccuracy: try grouped(correct, scaleMap),
                frameAccuracy: try grouped(correct, frameMap))
        }
    }
}
