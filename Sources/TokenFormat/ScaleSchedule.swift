/// The coarse-to-fine scales one latent frame is quantized at.
///
/// Infinity's square schedule (1, 2, 4, 6, 8, 12, 16, …) truncated at the latent grid; for
/// a non-square grid both sides scale by the aspect ratio (the longer side follows the
/// list). The last scale is always the full grid. 128² × 17 frames → a 8×8 grid → 5 scales.
public struct ScaleSchedule: Sendable, Equatable, CustomStringConvertible {
    public let scales: [Scale]

    public struct Scale: Sendable, Equatable, Hashable {
        public let height: Int
        public let width: Int
        public var tokens: Int { height * width }
        public init(height: Int, width: Int) {
            self.height = height
            self.width = width
        }
    }

    /// A schedule given scale by scale (as a shard's metadata stores it).
    public init(scales: [Scale]) {
        self.scales = scales
    }

    public init(height: Int, width: Int, sides: [Int]) {
        let longer = max(height, width)
        var result: [Scale] = []
        for side in sides where side < longer {
            let h = max(1, Int((Double(side) * Double(height) / Double(longer)).rounded()))
            let w = max(1, Int((Double(side) * Double(width) / Double(longer)).rounded()))
            let scale = Scale(height: h, width: w)
            if result.last != scale { result.append(scale) }
        }
        let full = Scale(height: height, width: width)
        if result.last != full { result.append(full) }
        scales = result
    }

    /// Tokens in one latent frame over all scales.
    public var tokensPerFrame: Int { scales.reduce(0) { $0 + $1.tokens } }

    /// Where each scale's tokens start in the per-frame token sequence.
    public var offsets: [Int] {
        var result: [Int] = []
        var total = 0
        for s in scales {
            result.append(total)
            total += s.tokens
        }
        return result
    }

    public var description: String { scales.map { "\($0.height)×\($0.width)" }.joined(separator: ", ") }
}
