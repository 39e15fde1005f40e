#if canImport(Glibc)
import Glibc
#endif

/// What curation measures on one sampled frame: a 64 × 64 grey thumbnail (the centre square
/// of the picture) and the statistics clips are scored and shots are cut by.
///
/// Everything works on the thumbnail, never the full picture, so it costs a small fraction
/// of decoding (see `videoar bench ingest`).
public struct FrameAnalysis: Sendable {
    /// Side of the grey thumbnail.
    public static let side = 64
    /// Grey levels (0–255), row-major, `side × side`.
    public var grey: [Float]
    /// Mean grey level.
    public var mean: Float
    /// Standard deviation of the grey levels: near 0 for a black or any single-colour frame.
    public var contrast: Float
    /// The largest standard deviation of one colour channel: what grey misses — a small red
    /// square on navy leaves a dark frame's grey contrast low, but its red channel spans 0–255.
    public var colourContrast: Float
    /// Mean absolute difference of horizontally and vertically adjacent thumbnail pixels:
    /// falls when a picture is blurred or empty.
    public var detail: Float
    /// 32-bin normalised grey histogram, for telling a cut from motion.
    public var histogram: [Float]

    /// Analyses a `side × side` RGB thumbnail (`[H, W, 3]` bytes).
    public init(rgb: UnsafeBufferPointer<UInt8>) {
        let n = Self.side * Self.side
        precondition(rgb.count == n * 3, "FrameAnalysis expects a \(Self.side)² RGB thumbnail")
        var grey = [Float](repeating: 0, count: n)
        var histogram = [Float](repeating: 0, count: 32)
        var sum: Float = 0
        var channelSum: [Float] = [0, 0, 0], channelSquares: [Float] = [0, 0, 0]
        for i in 0..<n {
            for c in 0..<3 {
                let v = Float(rgb[3 * i + c])
                channelSum[c] += v
                channelSquares[c] += v * v
            }
            // BT.601 luma weights: what "grey" means in every decoder the footage came from.
            let y = 0.299 * Float(rgb[3 * i]) + 0.587 * Float(rgb[3 * i + 1]) + 0.114 * Float(rgb[3 * i + 2])
            grey[i] = y
            sum += y
            histogram[min(31, Int(y) >> 3)] += 1 / Float(n)
        }
        let mean = sum / Float(n)
        var variance: Float = 0
        var gradient: Float = 0
        let side = Self.side
        for y in 0..<side {
            for x in 0..<side {
                let v = grey[y * side + x]
                variance += (v - mean) * (v - mean)
                if x + 1 < side { gradient += abs(grey[y * side + x + 1] - v) }
                if y + 1 < side { gradient += abs(grey[(y + 1) * side + x] - v) }
            }
        }
        self.grey = grey
        self.mean = mean
        self.contrast = (variance / Float(n)).squareRoot()
        self.colourContrast = (0..<3).map { c in
            let m = channelSum[c] / Float(n)
            return max(0, channelSquares[c] / Float(n) - m * m).squareRoot()
        }.max()!
        self.detail = gradient / Float(2 * side * (side - 1))
        self.histogram = histogram
    }

    /// Mean absolute grey difference to `other` (0–255): the motion between two frames.
    public func difference(to other: FrameAnalysis) -> Float {
        var total: Float = 0
        for i in grey.indices { total += abs(grey[i] - other.grey[i]) }
        return total / Float(grey.count)
    }

    /// Half the L1 distance of the histograms (0: same grey levels, 1: disjoint).
    public func histogramDistance(to other: FrameAnalysis) -> Float {
        var total: Float = 0
        for i in histogram.indices { total += abs(histogram[i] - other.histogram[i]) }
        return total / 2
    }

    /// A black or single-colour frame: almost no contrast, or dark with little of it — in grey
    /// and in every colour channel (a saturated object on a dark colour is content).
    public var isBlack: Bool { (contrast < 4 || (mean < 24 && contrast < 10)) && colourContrast < 10 }

    /// DCT-II basis over 32 samples, the 8 lowest frequencies: [u, x].
    private static let cosines: [Float] = (0..<8).flatMap { u in
        (0..<32).map { x in Float(cos(Double.pi * Double(u) * (2 * Double(x) + 1) / 64)) }
    }

    /// A 64-bit perceptual hash: the signs of the 8 × 8 lowest DCT frequencies of the 32 × 32
    /// thumbnail against their median (DC left out). Re-encoding, rescaling and mild colour
    /// changes move few bits; different pictures differ in about half.
    public var perceptualHash: UInt64 {
        let small = 32
        var pixels = [Float](repeating: 0, count: small * small)
        for y in 0..<small {
            for x in 0..<small {
                let i = 2 * y * Self.side + 2 * x
                pixels[y * small + x] = (grey[i] + grey[i + 1] + grey[i + Self.side] + grey[i + Self.side + 1]) / 4
            }
        }
        // Separable DCT-II, only the 8 lowest frequencies per axis.
        let cosines = Self.cosines
        var rows = [Float](repeating: 0, count: small * 8)  // [y, u]
        for y in 0..<small {
            for u in 0..<8 {
                var s: Float = 0
                for x in 0..<small { s += pixels[y * small + x] * cosines[u * small + x] }
                rows[y * 8 + u] = s
            }
        }
        var coefficients = [Float](repeating: 0, count: 64)  // [v, u]
        for v in 0..<8 {
            for u in 0..<8 {
                var s: Float = 0
                for y in 0..<small { s += rows[y * 8 + u] * cosines[v * small + y] }
                coefficients[v * 8 + u] = s
            }
        }
        let median = coefficients.dropFirst().sorted()[31]
        var hash: UInt64 = 0
        for k in 1..<64 where coefficients[k] > median { hash |= 1 << UInt64(k) }
        return hash
    }
}

/// Finds hard cuts in a stream of sampled frames, one frame at a time.
///
/// A cut is a frame that differs from the previous one both in its pixels (mean absolute
/// difference) and in its grey-level histogram, by much more than the recent frames did.
/// The pixel difference alone fires on fast pans (the picture moves, the histogram stays);
/// the histogram alone misses cuts between similar-looking shots. Requiring both, relative to
/// a running level of recent motion, keeps a detector that needs no per-film tuning — the
/// adaptive idea of PySceneDetect's AdaptiveDetector, on a cheaper statistic.
public struct ShotBoundaryDetector: Sendable {
    /// How many times the recent mean difference a cut must exceed.
    public var ratio: Float
    /// The smallest pixel difference (grey levels) that can be a cut at all.
    public var minimumDifference: Float
    /// The smallest histogram distance (0–1) that can be a cut.
    public var minimumHistogramDistance: Float
    private var recent: [Float] = []
    private let window = 8

    public init(ratio: Float = 3, minimumDifference: Float = 12, minimumHistogramDistance: Float = 0.2) {
        self.ratio = ratio
        self.minimumDifference = minimumDifference
        self.minimumHistogramDistance = minimumHistogramDistance
    }

    /// True when `frame` starts a new shot after `previous`; `difference` is
    /// `frame.difference(to: previous)`, which the caller has already measured.
    public mutating func isCut(_ frame: FrameAnalysis, after previous: FrameAnalysis, difference: Float) -> Bool {
        let level = recent.isEmpty ? 0 : recent.reduce(0, +) / Float(recent.count)
        let cut =
            difference >= minimumDifference && difference >= ratio * level
            && frame.histogramDistance(to: previous) >= minimumHistogramDistance
        if cut {
            recent.removeAll()  // a new shot: its own motion level
        } else {
            recent.append(difference)
            if recent.count > window { recent.removeFirst() }
        }
        return cut
    }
}
