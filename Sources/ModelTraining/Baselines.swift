import Foundation
import Tensor
import TokenDataset

/// The two baselines a user asks about, fitted on training clips and scored on held-out ones:
/// each bit's marginal frequency (per scale and bit position), and "copy the previous latent
/// frame's bits" (right with the per-scale agreement rate seen in training; frame 0 falls back
/// to the marginal). A model that cannot beat both has learned nothing about video.
struct Baselines {
    struct Counts {
        var ones: [Double]  // [K · d]
        var total: [Double]  // [K · d]
        var agree: [Double]  // [K]
        var pairs: [Double]  // [K]
    }
    private(set) var counts: [String: Counts] = [:]

    static func key(_ batch: TokenBatch) -> String { "\(batch.layout.bucket)|\(batch.layout.frames)" }

    /// Scale index of each token of a frame.
    static func tokenScales(_ batch: TokenBatch) -> [Int] {
        batch.layout.scales.enumerated().flatMap { k, s in Array(repeating: k, count: s[0] * s[1]) }
    }

    mutating func fit(_ batch: TokenBatch) throws {
        let k = batch.layout.scales.count, d = batch.layout.bitsPerToken
        let scales = Self.tokenScales(batch)
        let bits: [UInt8] = try batch.bits.scalars()
        let s = batch.bits.shape  // [B, T′, L_f, d]
        var c =
            counts[Self.key(batch)]
            ?? Counts(
                ones: Array(repeating: 0, count: k * d), total: Array(repeating: 0, count: k * d),
                agree: Array(repeating: 0, count: k), pairs: Array(repeating: 0, count: k))
        let frame = s[2] * d
        for b in 0..<s[0] {
            for t in 0..<s[1] {
                let base = (b * s[1] + t) * frame
                for token in 0..<s[2] {
                    let scale = scales[token]
                    for j in 0..<d {
                        let v = bits[base + token * d + j]
                        c.ones[scale * d + j] += Double(v)
                        c.total[scale * d + j] += 1
                        if t > 0 {
                            c.agree[scale] += v == bits[base - frame + token * d + j] ? 1 : 0
                            c.pairs[scale] += 1
                        }
                    }
                }
            }
        }
        counts[Self.key(batch)] = c
    }

    /// Mean NLL per bit (nats) of the marginal and copy-previous baselines on `batch`, or nil
    /// when no training clip of its layout was seen.
    func score(_ batch: TokenBatch) throws -> (marginal: Double, copy: Double)? {
        guard let c = counts[Self.key(batch)] else { return nil }
        let d = batch.layout.bitsPerToken
        let scales = Self.tokenScales(batch)
        let bits: [UInt8] = try batch.bits.scalars()
        let s = batch.bits.shape
        func clamp(_ p: Double) -> Double { min(max(p, 1e-4), 1 - 1e-4) }
        var marginal = 0.0, copy = 0.0
        let frame = s[2] * d
        for b in 0..<s[0] {
            for t in 0..<s[1] {
                let base = (b * s[1] + t) * frame
                for token in 0..<s[2] {
                    let scale = scales[token]
                    let agree = clamp((c.agree[scale] + 1) / (c.pairs[scale] + 2))
                    for j in 0..<d {
                        let v = bits[base + token * d + j]
                        let p1 = clamp((c.ones[scale * d + j] + 1) / (c.total[scale * d + j] + 2))
                        let m = -Foundation.log(v == 1 ? p1 : 1 - p1)
                        marginal += m
                        if t > 0 {
                            copy += -Foundation.log(v == bits[base - frame + token * d + j] ? agree : 1 - agree)
                        } else {
                            copy += m
                        }
                    }
                }
            }
        }
        let n = Double(batch.bits.count)
        return (marginal / n, copy / n)
    }
}
