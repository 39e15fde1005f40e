import Catalog
import Foundation
import Shards
import Tensor
import TokenFormat

/// A data folder (catalog + shards) of token clips made in memory, the way `videoar ingest`
/// lays one out: what the loader and trainer tests read, with no video decoding or tokenizer.
public struct TokenCorpus {
    /// One source: its clips per layout and an optional caption.
    public struct Source {
        public var clips: Int
        public var frames: Int
        public var caption: String?
        public init(clips: Int, frames: Int = 17, caption: String? = nil) {
            self.clips = clips
            self.frames = frames
            self.caption = caption
        }
    }

    public let folder: String
    public let catalog: Catalog
    /// Every clip id, per source (in source order).
    public private(set) var clipIDs: [[Int64]]
    public private(set) var sourcePaths: [String]

    public static let tokenizer = TokenizerIdentity(id: "corpus-tok", name: "corpus", trained: true)
    /// Bits per token of the corpus.
    public static let bits = 8
    /// Latent frames for a clip of `frames` input frames (temporal factor 4, causal first frame).
    public static func latentFrames(_ frames: Int) -> Int { 1 + (frames - 1) / 4 }
    /// A 4×4 latent grid with scales 1×1, 2×2, 4×4.
    public static let schedule = ScaleSchedule(height: 4, width: 4, sides: [1, 2, 4])

    /// Bits that a model can learn: each clip repeats a pattern from its seed, and later frames
    /// shift the previous frame's bits, so context predicts them.
    public static func clipBits(seed: UInt64, frames: Int) throws -> Tensor {
        let latent = latentFrames(frames)
        let perFrame = schedule.tokensPerFrame * bits
        var values = [UInt8](repeating: 0, count: latent * perFrame)
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        for i in 0..<perFrame {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            values[i] = UInt8(state & 1)
        }
        for t in 1..<max(latent, 1) {
            for i in 0..<perFrame { values[t * perFrame + i] = values[(t - 1) * perFrame + (i + 1) % perFrame] }
        }
        return try Tensor(values, shape: [latent, schedule.tokensPerFrame, bits])
    }

    /// Writes the corpus: one shard per layout (frames) holding every source's clips of it.
    public init(sources: [Source], folder: String? = nil) throws {
        let folder =
            folder ?? FileManager.default.temporaryDirectory.appendingPathComponent("corpus-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder + "/shards", withIntermediateDirectories: true)
        self.folder = folder
        catalog = try Catalog(path: folder + "/catalog.sqlite")
        try catalog.register(
            tokenizer: TokenizerRecord(id: Self.tokenizer.id, name: "corpus", config: "{}", trained: true, createdAt: 0)
        )
        clipIDs = []
        sourcePaths = []
        try add(sources)
    }

    /// Registers more sources and seals their clips into new shards, as a daemon does while a run
    /// is going.
    public mutating func add(_ sources: [Source]) throws {
        let first = sourcePaths.count
        var nextID = Int64(clipIDs.flatMap { $0 }.max() ?? 0) + 1
        var sourceIDs: [Int64] = []
        var paths: [String] = []
        for (offset, source) in sources.enumerated() {
            let path = "/corpus/source-\(first + offset).mp4"
            guard case .new(let id) = try catalog.register(path: path, size: 100, mtime: 1) else {
                throw CocoaError(.fileWriteUnknown)
            }
            sourceIDs.append(id)
            paths.append(path)
            if let caption = source.caption { _ = try catalog.addCaption(path: path, text: caption, origin: "test") }
        }
        while try catalog.claimNext() != nil {}  // processing, as the pipeline leaves them until sealed
        var ids: [[Int64]] = Array(repeating: [], count: sources.count)
        for frames in Set(sources.map(\.frames)).sorted() {
            let bucket = "128-1x1-64x64-f\(frames)"
            var clips: [(source: Int, tokens: TokenClip, id: Int64)] = []
            for (i, source) in sources.enumerated() where source.frames == frames {
                for _ in 0..<source.clips {
                    let tokens = try TokenClip(
                        tokenizer: Self.tokenizer, frames: frames, latentFrames: Self.latentFrames(frames),
                        latentHeight: 4, latentWidth: 4, schedule: Self.schedule, bitsPerToken: Self.bits,
                        bits: Self.clipBits(seed: UInt64(nextID), frames: frames))
                    clips.append((i, tokens, nextID))
                    ids[i].append(nextID)
                    nextID += 1
                }
            }
            guard !clips.isEmpty else { continue }
            let layout = ShardLayout(
                bucket: bucket, size: 128, width: 64, height: 64, frames: frames, fps: 8, tokens: clips[0].tokens)
            let writer = ShardWriter(layout: layout)
            for clip in clips { try writer.append(id: clip.id, tokens: clip.tokens) }
            let relative = "shards/\(bucket)-\(clips[0].id).safetensors"
            let written = try writer.write(to: folder + "/" + relative)
            let shard = ShardRecord(
                path: relative, bucket: bucket, size: 128, aspect: "1:1", width: 64, height: 64, frames: frames,
                fps: 8, tokenizerId: Self.tokenizer.id, clipCount: clips.count, bytes: written.bytes,
                sha256: written.sha256, createdAt: 0)
            let records = clips.enumerated().map { row, clip in
                ClipRecord(
                    id: clip.id, sourceId: sourceIDs[clip.source], bucket: bucket, size: 128, width: 64, height: 64,
                    aspect: "1:1", frames: frames, fps: 8, clipIndex: row, startTime: 0,
                    endTime: Double(frames) / 8, tokens: clip.tokens.tokenCount, row: row)
            }
            try catalog.seal(shard, clips: records, completing: sourceIDs)
        }
        clipIDs += ids
        sourcePaths += paths
    }
}
