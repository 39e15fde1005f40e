import AtomicFiles
import Crypto
import Foundation
import Tensor
import TokenFormat

extension ShardLayout {
    /// The layout of clips tokenized like `tokens`.
    public init(bucket: String, size: Int, width: Int, height: Int, frames: Int, fps: Double, tokens: TokenClip) {
        self.bucket = bucket
        self.size = size
        self.width = width
        self.height = height
        self.frames = frames
        self.fps = fps
        tokenizerID = tokens.tokenizer.id
        tokenizerName = tokens.tokenizer.name
        tokenizerTrained = tokens.tokenizer.trained
        latentFrames = tokens.latentFrames
        latentHeight = tokens.latentHeight
        latentWidth = tokens.latentWidth
        scales = tokens.schedule.scales.map { [$0.height, $0.width] }
        bitsPerToken = tokens.bitsPerToken
        codeDecay = tokens.codeDecay
    }
}

/// Accumulates clips of one layout and writes them as one safetensors shard.
public final class ShardWriter {
    public let layout: ShardLayout
    private var packed: [UInt8] = []
    public private(set) var clipIDs: [Int64] = []

    public init(layout: ShardLayout) { self.layout = layout }

    public var count: Int { clipIDs.count }
    public var byteCount: Int { packed.count + clipIDs.count * 8 }

    /// Adds a clip's tokens (which must match the layout); returns its row.
    @discardableResult
    public func append(id: Int64, tokens: TokenClip) throws -> Int {
        guard tokens.tokenizer.id == layout.tokenizerID, tokens.latentFrames == layout.latentFrames,
            tokens.schedule.scales.map({ [$0.height, $0.width] }) == layout.scales,
            tokens.bitsPerToken == layout.bitsPerToken, tokens.codeDecay == layout.codeDecay
        else {
            throw ShardError(.layout, "tokens of clip \(id) do not match the shard layout of bucket \(layout.bucket)")
        }
        let bits: [UInt8] = try tokens.bits.scalars()
        packed.append(contentsOf: Self.pack(bits, bytes: layout.bytesPerClip))
        clipIDs.append(id)
        return clipIDs.count - 1
    }

    /// 0/1 bytes → packed bits, most significant bit first (NumPy's packbits default).
    static func pack(_ bits: [UInt8], bytes: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: bytes)
        for (i, bit) in bits.enumerated() where bit != 0 { out[i >> 3] |= 0x80 >> UInt8(i & 7) }
        return out
    }

    /// Writes the shard atomically to `path` and returns its size and SHA-256.
    public func write(to path: String) throws -> (bytes: Int64, sha256: String) {
        guard !clipIDs.isEmpty else { throw ShardError(.layout, "an empty shard is not written") }
        let tokens = try Tensor.fromBytes(packed, dtype: .uint8, shape: [count, layout.bytesPerClip])
        let ids = try Tensor(clipIDs, shape: [count])
        try FileManager.default.createDirectory(
            atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path,
            withIntermediateDirectories: true)
        try SafeTensors.write(["tokens": tokens, "clip_ids": ids], metadata: layout.metadata, to: path)
        return try Shard.digest(path)
    }
}

/// A sealed shard read back.
public struct Shard {
    public let path: String
    public let layout: ShardLayout
    /// uint8 [N, bytes_per_clip].
    public let tokens: Tensor
    public let clipIDs: [Int64]

    public init(path: String) throws {
        let file: SafeTensors.File
        do { file = try SafeTensors.read(path) } catch {
            throw ShardError(.format, "\(path) is not a readable safetensors file", cause: "\(error)")
        }
        self.path = path
        layout = try ShardLayout(metadata: file.metadata, path: path)
        guard let tokens = file.tensors["tokens"], let ids = file.tensors["clip_ids"],
            tokens.dtype == .uint8, ids.dtype == .int64, tokens.rank == 2, ids.rank == 1,
            tokens.shape[0] == ids.shape[0], tokens.shape[1] == layout.bytesPerClip
        else {
            throw ShardError(
                .format, "\(path): expected tokens uint8 [N, \(layout.bytesPerClip)] and clip_ids int64 [N]")
        }
        self.tokens = tokens
        clipIDs = try ids.scalars()
    }

    public var count: Int { clipIDs.count }

    /// The bits of row `row`, uint8 0/1 [latent frames, tokens per frame, d].
    public func bits(row: Int) throws -> Tensor { try bits(rows: [row]).select(dim: 0, 0) }

    /// The bits of several rows at once, uint8 0/1 [rows, latent frames, tokens per frame, d]:
    /// a training batch unpacked in one pass through a byte → 8-bit table.
    public func bits(rows: [Int]) throws -> Tensor {
        let perClip = layout.bitsPerClip
        var bits = [UInt8](repeating: 0, count: rows.count * perClip)
        let bytes = layout.bytesPerClip
        try tokens.indexSelect(dim: 0, Tensor(rows.map(Int64.init), shape: [rows.count])).contiguous()
            .scalars(as: UInt8.self).withUnsafeBufferPointer { packed in
                bits.withUnsafeMutableBufferPointer { out in
                    for r in 0..<rows.count {
                        let source = r * bytes, target = r * perClip
                        for i in 0..<(perClip >> 3) {
                            withUnsafeBytes(of: Self.expansion[Int(packed[source + i])]) { eight in
                                for j in 0..<8 { out[target + 8 * i + j] = eight[j] }
                            }
                        }
                        for i in (perClip & ~7)..<perClip {
                            out[target + i] = (packed[source + (i >> 3)] >> (7 - UInt8(i & 7))) & 1
                        }
                    }
                }
            }
        return try Tensor(
            bits, shape: [rows.count, layout.latentFrames, layout.tokensPerFrame, layout.bitsPerToken])
    }

    /// byte → its 8 bits (most significant first) as 8 bytes of 0/1, in memory order.
    private static let expansion: [UInt64] = (0..<256).map { byte in
        var word: UInt64 = 0
        withUnsafeMutableBytes(of: &word) { out in
            for j in 0..<8 { out[j] = UInt8((byte >> (7 - j)) & 1) }
        }
        return word
    }

    /// Row `row` as a `TokenClip` (what the tokenizer decodes back to pixels).
    public func clip(row: Int) throws -> TokenClip {
        try TokenClip(
            tokenizer: TokenizerIdentity(
                id: layout.tokenizerID, name: layout.tokenizerName, trained: layout.tokenizerTrained),
            frames: layout.frames, latentFrames: layout.latentFrames, latentHeight: layout.latentHeight,
            latentWidth: layout.latentWidth,
            schedule: ScaleSchedule(scales: layout.scales.map { ScaleSchedule.Scale(height: $0[0], width: $0[1]) }),
            bitsPerToken: layout.bitsPerToken, codeDecay: layout.codeDecay, bits: bits(row: row))
    }

    /// Size and SHA-256 of a file, read in 1 MiB blocks.
    public static func digest(_ path: String) throws -> (bytes: Int64, sha256: String) {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw ShardError(.io, "cannot open \(path)") }
        defer { try? handle.close() }
        var hasher = SHA256()
        var total: Int64 = 0
        while let block = try handle.read(upToCount: 1 << 20), !block.isEmpty {
            hasher.update(data: block)
            total += Int64(block.count)
        }
        return (total, hasher.finalize().map { String(format: "%02x", $0) }.joined())
    }
}
