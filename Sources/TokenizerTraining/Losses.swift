import Tensor
import Tokenizer

/// Image-quality measures shared by the trainer (as losses) and `tokenizer eval`.
public enum ImageQuality {
    /// Mean SSIM of [N, C, H, W] pictures whose values span `range` (2 for [−1, 1], 255 for
    /// 8-bit), computed like scikit-image's `structural_similarity` defaults: 7×7 uniform
    /// windows over the valid region, sample covariances, K1 = 0.01, K2 = 0.03, averaged over
    /// channels and positions. Differentiable.
    public static func ssim(_ x: Tensor, _ y: Tensor, range: Double) throws -> Tensor {
        let window = 7
        let covarianceNorm = Double(window * window) / Double(window * window - 1)
        func mean(_ t: Tensor) throws -> Tensor { try t.avgPool2d(kernel: window) }
        let mx = try mean(x), my = try mean(y)
        let vx = try (mean(x * x) - mx * mx) * covarianceNorm
        let vy = try (mean(y * y) - my * my) * covarianceNorm
        let vxy = try (mean(x * y) - mx * my) * covarianceNorm
        let c1 = (0.01 * range) * (0.01 * range), c2 = (0.03 * range) * (0.03 * range)
        let numerator = try (mx * my * 2 + c1) * (vxy * 2 + c2)
        let denominator = try (mx * mx + my * my + c1) * (vx + vy + c2)
        return try (numerator / denominator).mean()
    }

    /// [N, 3, T, H, W] → [N·T, 3, H, W] (SSIM and PSNR are per picture).
    static func frames(_ video: Tensor) throws -> Tensor {
        let s = video.shape
        return try video.permuted([0, 2, 1, 3, 4]).reshaped([s[0] * s[2], s[1], s[3], s[4]])
    }

    /// PSNR in dB of [−1, 1] tensors after rounding both to 8 bits, as a viewer would see them
    /// (99 for identical pictures, so a log record stays valid JSON).
    static func psnr8bit(_ x: Tensor, _ y: Tensor) throws -> Double {
        func bytes(_ t: Tensor) throws -> Tensor { try ((t.clamp(min: -1, max: 1) + 1) * 127.5).rounded().to(.uint8) }
        let value = try psnr(bytes(x), bytes(y))
        return value.isFinite ? value : 99
    }
}

/// BSQ's entropy penalty over per-bit probabilities (method §2).
///
/// For each quantizer input u (unit-normalised per position), bit i is 1 with soft
/// probability p_i = sigmoid(2·√d·u_i / temperature). The per-sample entropy (low when
/// every bit is decided firmly) minus the codebook entropy of the batch-mean p_i (high
/// when every bit is used half the time). Both in nats per bit, so ln 2 is the maximum.
struct EntropyPenalty {
    var temperature: Double
    var codebookWeight: Double

    struct Value {
        var loss: Tensor
        var perSample: Double
        var codebook: Double
    }

    /// `inputs`: per scale [M, d, h, w].
    func callAsFunction(_ inputs: [Tensor]) throws -> Value {
        var perSample: Tensor? = nil, codebook: Tensor? = nil
        for input in inputs {
            let d = Double(input.shape[1])
            let unit = try input / input.norm(dims: [1], keepDim: true).clamp(min: 1e-8)
            let p = try (unit * (2 * d.squareRoot() / temperature)).sigmoid()
            let sample = try Self.binaryEntropy(p).mean()
            let mean = try p.mean(dims: [0, 2, 3])  // [d]
            let book = try Self.binaryEntropy(mean).mean()
            perSample = try perSample.map { try $0 + sample } ?? sample
            codebook = try codebook.map { try $0 + book } ?? book
        }
        guard let perSample, let codebook else {
            throw TrainingError(.configuration, "the quantizer produced no scales")
        }
        let n = Double(inputs.count)
        let s = try perSample / n, c = try codebook / n
        return Value(loss: try s - c * codebookWeight, perSample: try s.item(), codebook: try c.item())
    }

    static func binaryEntropy(_ p: Tensor) throws -> Tensor {
        let q = try p.clamp(min: 1e-6, max: 1 - 1e-6)
        return try -(q * q.log() + (1 - q) * (1 - q).log())
    }
}

/// Bit usage of hard bits: each bit's mean over every token, and the codebook entropy of
/// those means in bits per bit (1 = every bit used half the time).
struct BitUsage: Codable, Sendable {
    var means: [Double]
    var entropy: Double

    /// `bits`: per scale uint8 [M, d, h, w].
    init(_ bits: [Tensor]) throws {
        var sums: [Double]? = nil
        var count = 0
        for b in bits {
            let s = b.shape
            let perBit = try b.to(.float64).sum(dims: [0, 2, 3]).scalars(as: Double.self)
            sums = sums.map { zip($0, perBit).map(+) } ?? perBit
            count += s[0] * s[2] * s[3]
        }
        means = (sums ?? []).map { $0 / Double(max(count, 1)) }
        let h = means.map { p -> Double in
            guard p > 0, p < 1 else { return 0 }
            return -(p * log2(p) + (1 - p) * log2(1 - p))
        }
        entropy = h.isEmpty ? 0 : h.reduce(0, +) / Double(h.count)
    }
}

#if canImport(Glibc)
import Glibc
#endif
