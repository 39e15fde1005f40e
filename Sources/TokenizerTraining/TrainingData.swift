import AtomicFiles
import Catalog
import Foundation
import Logging
import Tensor
import TrainingRun
import VideoIO

/// Training pictures held in memory: every source decoded once per cache size (and, for
/// videos, per frame rate) through VideoIO, so each step only crops and flips.
///
/// The corpora this trains on are small (minutes of video, a hundred photos), so decoding
/// once and sampling many random crops is far cheaper than decoding per step.
public final class TrainingFrames {
    /// One decoded source at one size (and rate): frames [count, height, width, 3].
    struct Source {
        var path: String
        var width: Int
        var height: Int
        var fps: Double?
        var frames: [UInt8]
        var count: Int
        var frameBytes: Int { width * height * 3 }
    }

    private(set) var stills: [Source] = []
    private(set) var videos: [Source] = []
    /// Files that could not be used, with the reason (shown once at start).
    public private(set) var skipped: [(path: String, reason: String)] = []
    /// Share of samples whose colours are re-mixed (`data.colour_augmentation`).
    let colourAugmentation: Double

    public var stillCount: Int { Set(stills.map(\.path)).count }
    public var videoCount: Int { Set(videos.map(\.path)).count }
    public var videoFrameCount: Int { videos.reduce(0) { $0 + $1.count } }

    /// Decodes the configured sources; `fps` lists the rates video stages resample to.
    public init(_ data: TokenizerTrainingConfiguration.DataConfiguration, fps: [Double], logger: Logger) throws {
        colourAugmentation = data.colourAugmentation
        let videoFiles = try Self.files(in: data.videos, exclude: data.exclude, limit: data.maxFiles)
        let imageFiles = try Self.files(in: data.images, exclude: data.exclude, limit: data.maxFiles)
        var catalogFiles: [String] = []
        if let path = data.catalog {
            do {
                catalogFiles = try Catalog(path: path).sources(in: .done).map(\.path)
                    .filter { file in !data.exclude.contains(where: { file.contains($0) }) }
            } catch {
                throw TrainingError(.data, "cannot read the catalog \(path)", cause: "\(error)")
            }
        }
        let rates = fps.isEmpty ? [8] : Array(Set(fps)).sorted()
        for size in data.cacheSizes {
            for file in imageFiles { load(file, size: size, fps: nil, kind: .still, logger: logger) }
            for file in videoFiles {
                for rate in rates { load(file, size: size, fps: rate, kind: .video, logger: logger) }
            }
            for file in catalogFiles {  // a catalog holds both: the first read says which
                guard load(file, size: size, fps: rates[0], kind: nil, logger: logger) == .video else { continue }
                for rate in rates.dropFirst() { load(file, size: size, fps: rate, kind: .video, logger: logger) }
            }
        }
        var reported = Set<String>()
        skipped = skipped.filter { reported.insert($0.path).inserted }  // one entry per file, not per size and rate
        for (path, reason) in skipped {
            logger.warning("training file skipped", metadata: ["file": "\(path)", "reason": "\(reason)"])
        }
    }

    /// Files under the given files/folders (recursively, hidden names skipped), sorted so
    /// runs are reproducible; paths keep the spelling of their root.
    static func files(in roots: [String], exclude: [String], limit: Int?) throws -> [String] {
        var found: [String] = []
        for root in roots {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory) else {
                throw TrainingError(
                    .data, "\(root) does not exist (see data.videos / data.images in the training config)")
            }
            if !isDirectory.boolValue {
                found.append(root)
                continue
            }
            // The walk answers absolute paths; `exclude` and reports see them as the root was given.
            let base = URL(fileURLWithPath: root).standardizedFileURL.path
            for file in FileTree.walk(root).files {
                let relative = String(file.dropFirst(base.count).drop(while: { $0 == "/" }))
                found.append((root as NSString).appendingPathComponent(relative))
            }
        }
        var kept = found.filter { path in !exclude.contains(where: { path.contains($0) }) }.sorted()
        if let limit { kept = Array(kept.prefix(limit)) }
        return kept
    }

    private enum Kind { case still, video }

    /// Decodes one source into the caches; returns what it was, or nil when skipped.
    @discardableResult
    private func load(_ path: String, size: Int, fps: Double?, kind expected: Kind?, logger: Logger) -> Kind? {
        // frames: 1 with stride 1 turns the reader into "every frame at the target rate".
        let configuration = ClipConfiguration(
            fps: fps ?? 1, frames: 1, stride: 1,
            buckets: BucketPolicy(sizes: [size], aspectRatios: AspectRatio.defaults, multiple: 16, maxUpscale: 2),
            decoderThreads: 0, stopOnDamage: false)
        do {
            let reader = try ClipReader(path: path, configuration: configuration, logger: logger)
            guard let bucket = reader.buckets.first else {
                skipped.append((path, reader.skippedBuckets.first?.reason ?? "fits no bucket"))
                return nil
            }
            let kind: Kind = reader.media.isStillImage ? .still : .video
            if let expected, expected != kind {
                skipped.append(
                    (path, kind == .still ? "a still image in a video folder" : "a video in an image folder"))
                return nil
            }
            var pixels: [UInt8] = []
            var count = 0
            while let clip = try reader.next() {
                pixels.append(contentsOf: clip.pixels)
                count += 1
            }
            guard count > 0 else {
                skipped.append((path, reader.outcome?.noClipReason ?? "no frames"))
                return nil
            }
            let source = Source(
                path: path, width: bucket.width, height: bucket.height, fps: kind == .still ? nil : fps,
                frames: pixels, count: count)
            if kind == .video { videos.append(source) } else { stills.append(source) }
            return kind
        } catch {
            skipped.append((path, "\(error)"))
            return nil
        }
    }

    // MARK: - Batches

    /// A batch of `count` image-stage pictures [N, 3, 1, H, W] in [−1, 1]: stills, or single
    /// frames of videos with probability `videoFraction`, randomly cropped and flipped.
    public func imageBatch(
        count: Int, width: Int, height: Int, videoFraction: Double,
        using rng: inout SplitMix64
    ) throws -> Tensor {
        var pixels: [UInt8] = []
        pixels.reserveCapacity(count * width * height * 3)
        for _ in 0..<count {
            let fromVideo = stills.isEmpty || (!videos.isEmpty && Double.random(in: 0..<1, using: &rng) < videoFraction)
            let pool = try fitting(fromVideo ? videos : stills, width: width, height: height, frames: 1)
            let source = pool[Int.random(in: 0..<pool.count, using: &rng)]
            let frame = Int.random(in: 0..<source.count, using: &rng)
            crop(source, frames: frame..<(frame + 1), width: width, height: height, into: &pixels, using: &rng)
        }
        return try Self.tensor(pixels, count: count, frames: 1, width: width, height: height)
    }

    /// A batch of `count` clips [N, 3, T, H, W] in [−1, 1] at `fps`: random source (weighted
    /// by length), random start, random crop, random horizontal flip.
    public func clipBatch(
        count: Int, frames: Int, fps: Double, width: Int, height: Int,
        using rng: inout SplitMix64
    ) throws -> Tensor {
        let pool = try fitting(videos.filter { $0.fps == fps }, width: width, height: height, frames: frames)
        let weights = pool.map { $0.count - frames + 1 }
        let total = weights.reduce(0, +)
        var pixels: [UInt8] = []
        pixels.reserveCapacity(count * frames * width * height * 3)
        for _ in 0..<count {
            var pick = Int.random(in: 0..<total, using: &rng)
            var index = 0
            while pick >= weights[index] {
                pick -= weights[index]
                index += 1
            }
            crop(pool[index], frames: pick..<(pick + frames), width: width, height: height, into: &pixels, using: &rng)
        }
        return try Self.tensor(pixels, count: count, frames: frames, width: width, height: height)
    }

    private func fitting(_ sources: [Source], width: Int, height: Int, frames: Int) throws -> [Source] {
        let pool = sources.filter { $0.width >= width && $0.height >= height && $0.count >= frames }
        guard !pool.isEmpty else {
            throw TrainingError(
                .data,
                "no training source holds a \(width)×\(height) crop of \(frames) frame(s); "
                    + "add data, raise data.cache_sizes or lower the stage's sizes/frames")
        }
        return pool
    }

    private func crop(
        _ source: Source, frames: Range<Int>, width: Int, height: Int, into pixels: inout [UInt8],
        using rng: inout SplitMix64
    ) {
        let x0 = Int.random(in: 0...(source.width - width), using: &rng)
        let y0 = Int.random(in: 0...(source.height - height), using: &rng)
        let flip = Bool.random(using: &rng)
        let start = pixels.count
        defer {
            if colourAugmentation > 0, Double.random(in: 0..<1, using: &rng) < colourAugmentation {
                let order = Self.channelOrders[Int.random(in: 0..<Self.channelOrders.count, using: &rng)]
                Self.remix(&pixels[start...], order: order, saturation: Double.random(in: 1...2, using: &rng))
            }
        }
        source.frames.withUnsafeBufferPointer { all in
            for f in frames {
                let base = f * source.frameBytes
                for y in 0..<height {
                    let row = base + ((y0 + y) * source.width + x0) * 3
                    if flip {
                        for x in stride(from: width - 1, through: 0, by: -1) {
                            pixels.append(all[row + 3 * x])
                            pixels.append(all[row + 3 * x + 1])
                            pixels.append(all[row + 3 * x + 2])
                        }
                    } else {
                        pixels.append(contentsOf: all[row..<(row + width * 3)])
                    }
                }
            }
        }
    }

    /// The six orders of R, G, B.
    static let channelOrders = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]]

    /// Reorders each RGB pixel's channels and scales its distance from grey by `saturation`
    /// (clamped), turning the muted colours of real photos into saturated ones of every hue.
    static func remix(_ pixels: inout ArraySlice<UInt8>, order: [Int], saturation: Double) {
        let gain = Int((saturation * 256).rounded())
        var i = pixels.startIndex
        while i < pixels.endIndex {
            let (r, g, b) = (Int(pixels[i + order[0]]), Int(pixels[i + order[1]]), Int(pixels[i + order[2]]))
            let grey = (r + g + b) / 3
            pixels[i] = UInt8(clamping: grey + ((r - grey) * gain) >> 8)
            pixels[i + 1] = UInt8(clamping: grey + ((g - grey) * gain) >> 8)
            pixels[i + 2] = UInt8(clamping: grey + ((b - grey) * gain) >> 8)
            i += 3
        }
    }

    /// uint8 [N, T, H, W, 3] → float [N, 3, T, H, W] in [−1, 1].
    static func tensor(_ pixels: [UInt8], count: Int, frames: Int, width: Int, height: Int) throws -> Tensor {
        let raw = try Tensor(pixels, shape: [count, frames, height, width, 3])
        return try (raw.to(.float32) / 127.5 - 1).permuted([0, 4, 1, 2, 3]).contiguous()
    }
}
