import Foundation
import Logging
import Tensor
import Testing
import TestSupport
import Tokenizer
import TokenFormat
@testable import Shards

@Suite("Token shards")
struct ShardsTests {
    static let tokenizer = try! Tokenizer(
        configuration: TokenizerConfiguration(
            name: "shard-test", baseChannels: 8, channelMultipliers: [1, 2, 2, 2, 2], latentDim: 8, normGroups: 4),
        logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })

    static func tokens(seed: UInt64) throws -> TokenClip {
        let g = Generator(seed: seed)
        let video = try (Tensor.rand([17, 3, 4, 4], generator: g).interpolate(size: [96, 176], mode: .bilinear) * 255)
            .permuted([0, 2, 3, 1]).to(.uint8).contiguous()
        return try tokenizer.encode(video)
    }

    static func folder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("shards-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func writeShard(_ clips: [TokenClip], to path: String) throws -> (bytes: Int64, sha256: String) {
        let layout = ShardLayout(
            bucket: "128-16x9-176x96", size: 128, width: 176, height: 96, frames: 17, fps: 8, tokens: clips[0])
        let writer = ShardWriter(layout: layout)
        for (i, clip) in clips.enumerated() { try writer.append(id: Int64(1000 + i), tokens: clip) }
        return try writer.write(to: path)
    }

    @Test("a shard reads back every clip's bits, ids and layout")
    func roundTrip() throws {
        let clips = try (1...3).map { try Self.tokens(seed: $0) }
        let path = try Self.folder() + "/a.safetensors"
        let written = try Self.writeShard(clips, to: path)
        #expect(
            written.bytes == (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value)
        let shard = try Shard(path: path)
        #expect(shard.count == 3 && shard.clipIDs == [1000, 1001, 1002])
        #expect(shard.layout.tokenizerID == Self.tokenizer.identity.id && !shard.layout.tokenizerTrained)
        #expect(shard.layout.latentFrames == 5 && shard.layout.latentHeight == 6 && shard.layout.latentWidth == 11)
        for (row, clip) in clips.enumerated() {
            #expect(try shard.bits(row: row).equal(clip.bits).logicalNot().to(.int64).sum().item() == 0)
        }
        #expect(try Shard.digest(path).sha256 == written.sha256)
    }

    @Test("tokens of another layout are refused")
    func layoutMismatch() throws {
        let clip = try Self.tokens(seed: 1)
        var layout = ShardLayout(bucket: "b", size: 128, width: 176, height: 96, frames: 17, fps: 8, tokens: clip)
        layout.tokenizerID = "someone-else"
        #expect(throws: ShardError.self) { try ShardWriter(layout: layout).append(id: 1, tokens: clip) }
    }

    @Test("damaged or foreign files are errors", arguments: ["not-safetensors", "foreign"])
    func damaged(kind: String) throws {
        let path = try Self.folder() + "/\(kind).safetensors"
        if kind == "foreign" {
            try SafeTensors.write(["x": Tensor([1, 2] as [Float])], metadata: ["format": "pt"], to: path)
        } else {
            try Data("hello".utf8).write(to: URL(fileURLWithPath: path))
        }
        #expect(throws: ShardError.self) { try Shard(path: path) }
    }

    /// Metadata edits a hostile shard makes, each with the words its error must contain.
    static let hostileMetadata: [(String, String, String)] = [
        ("latent_frames", "4611686018427387904", "overflows as a bit count"),
        ("scale_schedule", "[[3037000500,3037000500]]", "overflows as a bit count"),
        ("scale_schedule", "[[1]]", "is not a list of positive [h, w]"),
        ("scale_schedule", "[]", "is not a list of positive [h, w]"),
        ("scale_schedule", "{not json", "is not a list of positive [h, w]"),
        ("bits_per_token", "-8", "metadata 'bits_per_token' is -8; it must be positive"),
        ("latent_width", "0", "metadata 'latent_width' is 0; it must be positive"),
        ("frames", "seventeen", "metadata 'frames' is not an integer"),
    ]

    @Test("hostile layout metadata is an error that says what is wrong, never a trap", arguments: hostileMetadata)
    func hostileLayout(key: String, value: String, words: String) throws {
        let layout = ShardLayout(
            bucket: "b", size: 128, width: 176, height: 96, frames: 17, fps: 8, tokens: try Self.tokens(seed: 1))
        var metadata = layout.metadata
        metadata[key] = value
        let path = try Self.folder() + "/hostile.safetensors"
        try SafeTensors.write(
            [
                "tokens": Tensor.fromBytes(
                    .init(repeating: 0, count: layout.bytesPerClip), dtype: .uint8,
                    shape: [1, layout.bytesPerClip]),
                "clip_ids": Tensor([7] as [Int64], shape: [1]),
            ], metadata: metadata, to: path)
        let error = try #require(throws: ShardError.self) { try Shard(path: path) }
        #expect(error.code == .format)
        #expect(error.message.contains(words), "\(error)")
    }

    @Test("a shard whose safetensors header overflows is a format error naming the cause")
    func hostileHeader() throws {
        let header = Array(
            #"{"tokens":{"dtype":"U8","shape":[4611686018427387904,4611686018427387904],"data_offsets":[0,0]}}"#.utf8)
        let path = try Self.folder() + "/overflow.safetensors"
        try Data(withUnsafeBytes(of: UInt64(header.count).littleEndian, Array.init) + header).write(
            to: URL(fileURLWithPath: path))
        let error = try #require(throws: ShardError.self) { try Shard(path: path) }
        #expect(error.code == .format)
        #expect(error.cause?.contains("whose byte size overflows") == true, "\(error)")
    }

    static let numpyAvailable = pythonCanImport("numpy")

    @Test(
        "the NumPy reader in Schemas/shard-format.md reads our bits exactly",
        .enabled(if: numpyAvailable, "needs python3 with numpy (make test installs it)"))
    func numpyReader() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let document = try String(contentsOf: root.appendingPathComponent("Schemas/shard-format.md"), encoding: .utf8)
        let script = try #require(
            document.components(separatedBy: "```python\n").dropFirst().first?
                .components(separatedBy: "```").first)
        #expect(script.split(separator: "\n").count <= 30)
        let clips = try (1...2).map { try Self.tokens(seed: $0) }
        let folder = try Self.folder()
        _ = try Self.writeShard(clips, to: folder + "/s.safetensors")
        // The documented script, unchanged, imported as a module.
        try script.write(toFile: folder + "/shard_reader.py", atomically: true, encoding: .utf8)
        let checker = """
            import json, sys
            from shard_reader import read_shard
            ids, bits, meta = read_shard(sys.argv[1])
            sys.stdout.write(json.dumps({"ids": ids.tolist(), "shape": list(bits.shape), "bits": bits.reshape(-1).tolist()}))
            """
        try checker.write(toFile: folder + "/check.py", atomically: true, encoding: .utf8)
        let out = folder + "/out.json"
        FileManager.default.createFile(atPath: out, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", folder + "/check.py", folder + "/s.safetensors"]
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let result = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any])
        #expect(result["ids"] as? [Int] == [1000, 1001])
        #expect(result["shape"] as? [Int] == [2, 5, clips[0].schedule.tokensPerFrame, 8])
        let expected: [UInt8] = try Tensor.stack(clips.map(\.bits), dim: 0).reshaped([-1]).scalars()
        #expect((result["bits"] as? [Int])?.map(UInt8.init) == expected)
    }
}
