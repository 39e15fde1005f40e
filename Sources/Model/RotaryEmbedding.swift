import Foundation
import Tensor

/// Multi-scale Temporal RoPE (method §3): the head's rotation pairs are split over time,
/// height and width; each axis rotates by its own coordinate, so attention scores depend
/// on relative offsets along each axis only.
public struct RotaryEmbedding: Sendable {
    /// Rotation pairs per axis (time, height, width); they sum to headDim / 2.
    public let pairs: (time: Int, height: Int, width: Int)
    public let base: Double
    public let kind: RotaryKind

    public init(headDim: Int, timeShare: Double, base: Double, kind: RotaryKind = .temporal) {
        let total = headDim / 2
        let time = max(1, Int((Double(total) * timeShare).rounded()))
        let height = (total - time) / 2
        pairs = kind == .sequence ? (total, 0, 0) : (time, height, total - time - height)
        self.base = base
        self.kind = kind
    }

    /// cos and sin [L, headDim / 2] of every position's rotation angles (`sequence`: every pair
    /// rotates by the token's index, the positions' place in the list).
    public func tables(_ positions: [(t: Int, h: Int, w: Int)]) throws -> (cos: Tensor, sin: Tensor) {
        let positions = kind == .sequence ? positions.indices.map { (t: $0, h: 0, w: 0) } : positions
        func frequencies(_ n: Int) -> [Double] { (0..<n).map { Foundation.pow(base, -Double($0) / Double(n)) } }
        let ft = frequencies(pairs.time), fh = frequencies(pairs.height), fw = frequencies(pairs.width)
        let width = pairs.time + pairs.height + pairs.width
        var angles = [Float](repeating: 0, count: positions.count * width)
        for (i, p) in positions.enumerated() {
            var o = i * width
            for f in ft {
                angles[o] = Float(Double(p.t) * f)
                o += 1
            }
            for f in fh {
                angles[o] = Float(Double(p.h) * f)
                o += 1
            }
            for f in fw {
                angles[o] = Float(Double(p.w) * f)
                o += 1
            }
        }
        let a = try Tensor(angles, shape: [positions.count, width])
        return (try a.cos(), try a.sin())
    }

    /// Rotates x [B, H, L, headDim] (pairs are adjacent elements) by the tables of its L positions.
    public static func rotate(_ x: Tensor, cos: Tensor, sin: Tensor) throws -> Tensor {
        let s = x.shape
        let pairs = try x.reshaped(s.dropLast() + [s[s.count - 1] / 2, 2])
        let x0 = try pairs.select(dim: -1, 0), x1 = try pairs.select(dim: -1, 1)  // [B, H, L, P]
        let r0 = try x0 * cos - x1 * sin
        let r1 = try x0 * sin + x1 * cos
        return try Tensor.stack([r0, r1], dim: -1).reshaped(s)
    }
}
