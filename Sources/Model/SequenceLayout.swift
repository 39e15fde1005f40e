import Tensor
import TokenFormat

/// Where every token of a clip sits in the transformer's sequence.
///
/// Tokens run frame by frame and, inside a frame, scale by scale (coarse to fine), row-major
/// within a scale: block b = t·K + k holds the h_k·w_k tokens of scale k of latent frame t.
/// Frame 0's first block is the start token (from the caption); every other block's input
/// comes from the tokens before it.
public struct SequenceLayout: Sendable, Equatable {
    public let frames: Int
    public let schedule: ScaleSchedule
    /// Per token: its block, frame, scale, and (time, height, width) RoPE position, with
    /// coarse scales mapped onto the finest grid (`round(i·H / h_k)`).
    public let block: [Int]
    public let frame: [Int]
    public let scale: [Int]
    public let positions: [(t: Int, h: Int, w: Int)]

    public init(frames: Int, schedule: ScaleSchedule) {
        self.frames = frames
        self.schedule = schedule
        let grid = schedule.scales.last!
        var block: [Int] = [], frame: [Int] = [], scale: [Int] = []
        var positions: [(t: Int, h: Int, w: Int)] = []
        for t in 0..<frames {
            for (k, s) in schedule.scales.enumerated() {
                for i in 0..<s.height {
                    for j in 0..<s.width {
                        block.append(t * schedule.scales.count + k)
                        frame.append(t)
                        scale.append(k)
                        let h = Int((Double(i) * Double(grid.height) / Double(s.height)).rounded())
                        let w = Int((Double(j) * Double(grid.width) / Double(s.width)).rounded())
                        positions.append((t, h, w))
                    }
                }
            }
        }
        self.block = block
        self.frame = frame
        self.scale = scale
        self.positions = positions
    }

    public static func == (a: Self, b: Self) -> Bool { a.frames == b.frames && a.schedule == b.schedule }

    public var count: Int { block.count }
    public var scalesPerFrame: Int { schedule.scales.count }
    /// Tokens of the start block (frame 0, scale 0).
    public var startTokens: Int { schedule.scales[0].tokens }

    /// Token range of block (t, k).
    public func range(frame t: Int, scale k: Int) -> Range<Int> {
        let start = t * schedule.tokensPerFrame + schedule.offsets[k]
        return start..<(start + schedule.scales[k].tokens)
    }

    /// The block-causal mask as an additive bias [L, L]: 0 where block(key) ≤ block(query),
    /// −∞ elsewhere. Every token sees all earlier blocks and its own block.
    public func blockCausalBias() throws -> Tensor {
        let b = try Tensor(block.map(Int64.init), shape: [count])
        let query = try b.reshaped([count, 1]).to(.float32)
        let key = try b.reshaped([1, count]).to(.float32)
        let allowed = try (query - key).greaterOrEqual(0)  // [L, L] bool
        return try Tensor.zeros([count, count]).maskedFill(allowed.logicalNot(), -Double.infinity)
    }

    /// The Random Frame Mask as a key mask [B, 1, L, L] (true: may attend): for a query of
    /// frame t, keys of an earlier frame t′ are visible only when `visible[b][t][t′]`. Tokens
    /// of the query's own frame are always visible; the caption conditions every block
    /// through AdaLN, so it is always visible too.
    public func frameMask(_ visible: [[[Bool]]]) throws -> Tensor {
        let batch = visible.count
        var flat = [UInt8](repeating: 1, count: batch * count * count)
        for b in 0..<batch {
            for q in 0..<count {
                let tq = frame[q]
                guard tq > 0 else { continue }
                let row = (b * count + q) * count
                for k in 0..<count where frame[k] < tq && !visible[b][tq][frame[k]] { flat[row + k] = 0 }
            }
        }
        return try Tensor(flat, shape: [batch, 1, count, count]).to(.bool)
    }
}
