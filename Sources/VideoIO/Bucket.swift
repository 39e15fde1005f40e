import Foundation

/// An aspect ratio such as 16:9, written width:height.
public struct AspectRatio: Hashable, Sendable, Codable, CustomStringConvertible, LosslessStringConvertible {
    public var width: Int
    public var height: Int

    public init(_ width: Int, _ height: Int) {
        precondition(width > 0 && height > 0, "aspect ratio sides must be positive")
        self.width = width
        self.height = height
    }

    /// Parses "16:9" (also "16x9" and "16/9").
    public init?(_ text: String) {
        let parts = text.split(whereSeparator: { $0 == ":" || $0 == "x" || $0 == "/" })
        guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]), w > 0, h > 0 else { return nil }
        self.init(w, h)
    }

    public var value: Double { Double(width) / Double(height) }
    public var description: String { "\(width):\(height)" }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let parsed = AspectRatio(text) else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath,
                    debugDescription: "'\(text)' is not an aspect ratio; write it as W:H, e.g. 16:9"))
        }
        self = parsed
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    /// The list VideoAR buckets into unless configured otherwise.
    public static let defaults: [AspectRatio] = [
        AspectRatio(1, 1), AspectRatio(4, 3), AspectRatio(3, 4),
        AspectRatio(16, 9), AspectRatio(9, 16), AspectRatio(21, 9),
    ]
}

/// A training resolution: a "pixel sqrt" size (√(H·W) ≈ size) at a snapped aspect ratio,
/// with H and W multiples of the tokenizer's spatial factor.
public struct Bucket: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    /// The nominal √(H·W): 128, 256 or 512 by default.
    public var size: Int
    public var aspect: AspectRatio
    public var width: Int
    public var height: Int

    public init(size: Int, aspect: AspectRatio, multiple: Int = 16) {
        self.size = size
        self.aspect = aspect
        let root = aspect.value.squareRoot()
        func snap(_ x: Double) -> Int { max(multiple, Int((x / Double(multiple)).rounded()) * multiple) }
        self.width = snap(Double(size) * root)
        self.height = snap(Double(size) / root)
    }

    /// "256 16:9 (336×192)": size, aspect, then width×height in pixels.
    public var description: String { "\(size) \(aspect) (\(width)×\(height))" }

    /// A name usable in file names: "256-16x9-336x192".
    public var slug: String { "\(size)-\(aspect.width)x\(aspect.height)-\(width)x\(height)" }

    public static func < (a: Bucket, b: Bucket) -> Bool {
        (a.size, a.width, a.height) < (b.size, b.width, b.height)
    }
}

/// How sources are assigned to buckets.
public struct BucketPolicy: Sendable, Equatable {
    /// The pixel-sqrt sizes to produce.
    public var sizes: [Int]
    /// Aspect ratios a source snaps to (the nearest in log space).
    public var aspectRatios: [AspectRatio]
    /// H and W are multiples of this (the tokenizer's spatial factor).
    public var multiple: Int
    /// The largest allowed enlargement; 1 means a bucket larger than the source is skipped.
    public var maxUpscale: Double

    public init(
        sizes: [Int] = [128, 256, 512], aspectRatios: [AspectRatio] = AspectRatio.defaults,
        multiple: Int = 16, maxUpscale: Double = 1.0
    ) {
        self.sizes = sizes
        self.aspectRatios = aspectRatios
        self.multiple = multiple
        self.maxUpscale = maxUpscale
    }

    /// The configured aspect ratio nearest to `width:height` (compared as log ratios,
    /// so 2:1 and 1:2 are equally far from 1:1).
    public func snappedAspect(width: Int, height: Int) -> AspectRatio {
        let source = log(Double(width) / Double(height))
        return aspectRatios.min(by: { abs(log($0.value) - source) < abs(log($1.value) - source) })
            ?? AspectRatio(1, 1)
    }

    /// The enlargement a bucket needs to cover a `width`×`height` picture (≤ 1 means shrinking).
    public static func scaleNeeded(for bucket: Bucket, width: Int, height: Int) -> Double {
        max(Double(bucket.width) / Double(width), Double(bucket.height) / Double(height))
    }

    /// A bucket the source cannot fill, with the reason.
    public struct Skipped: Sendable, Hashable, CustomStringConvertible {
        public var bucket: Bucket
        public var reason: String
        public var description: String { "\(bucket): \(reason)" }
    }

    /// The buckets a `width`×`height` (display orientation) source goes into, and those skipped.
    public func buckets(width: Int, height: Int) -> (fitting: [Bucket], skipped: [Skipped]) {
        guard width > 0, height > 0 else { return ([], []) }
        let aspect = snappedAspect(width: width, height: height)
        var fitting: [Bucket] = []
        var skipped: [Skipped] = []
        for size in sizes.sorted() {
            let bucket = Bucket(size: size, aspect: aspect, multiple: multiple)
            let scale = Self.scaleNeeded(for: bucket, width: width, height: height)
            if scale <= maxUpscale + 1e-9 {
                fitting.append(bucket)
            } else {
                let limit = maxUpscale == 1 ? "no enlargement allowed (max-upscale 1)" : "max-upscale is \(maxUpscale)"
                let needed = String(format: "%.2f", scale)
                skipped.append(
                    Skipped(
                        bucket: bucket,
                        reason: "the \(width)×\(height) source would need \(needed)× enlargement; \(limit)"))
            }
        }
        return (fitting, skipped)
    }
}
