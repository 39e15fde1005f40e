import Diagnostics
import Foundation

/// What every clip in a shard shares: bucket, clip shape, tokenizer and token layout.
///
/// Kept apart from `Shard.swift` (no LibTorch, no Tokenizer) so reading it from a shard's
/// untrusted metadata can be fuzzed on its own (`Fuzz/SafeTensorsFuzz.swift`).
public struct ShardLayout: Sendable, Equatable, Hashable {
    public var bucket: String
    public var size: Int
    public var width: Int
    public var height: Int
    public var frames: Int
    public var fps: Double
    public var tokenizerID: String
    public var tokenizerName: String
    public var tokenizerTrained: Bool
    public var latentFrames: Int
    public var latentHeight: Int
    public var latentWidth: Int
    /// (h, w) of every scale, coarse to fine.
    public var scales: [[Int]]
    public var bitsPerToken: Int
    /// The tokenizer's code decay; shards written before it was recorded used the standard 0.8.
    public var codeDecay: Double

    public var tokensPerFrame: Int { scales.reduce(0) { $0 + $1[0] * $1[1] } }
    /// Bits of one clip: latent frames × tokens per frame × d.
    public var bitsPerClip: Int { latentFrames * tokensPerFrame * bitsPerToken }
    /// Bytes of one clip's packed bits (8 per byte, most significant first).
    public var bytesPerClip: Int { (bitsPerClip + 7) / 8 }

    static let formatVersion = "1"

    /// The shard's `__metadata__` (safetensors metadata values are strings).
    var metadata: [String: String] {
        // JSON by hand: a list of integer pairs cannot fail to encode, so no `try!` is needed.
        let schedule =
            "[" + scales.map { "[" + $0.map(String.init).joined(separator: ",") + "]" }.joined(separator: ",") + "]"
        return [
            "format": "videoar-shard", "format_version": Self.formatVersion,
            "bucket": bucket, "size": String(size), "width": String(width), "height": String(height),
            "frames": String(frames), "fps": String(fps),
            "tokenizer_id": tokenizerID, "tokenizer_name": tokenizerName, "tokenizer_trained": String(tokenizerTrained),
            "latent_frames": String(latentFrames), "latent_height": String(latentHeight),
            "latent_width": String(latentWidth),
            "scale_schedule": schedule, "tokens_per_frame": String(tokensPerFrame),
            "bits_per_token": String(bitsPerToken), "code_decay": String(codeDecay),
            "bits_per_clip": String(bitsPerClip), "bit_order": "big", "layout": "[latent_frame, token, bit]",
        ]
    }

    init(metadata m: [String: String], path: String) throws {
        func value(_ key: String) throws -> String {
            guard let v = m[key] else { throw ShardError(.format, "\(path): metadata '\(key)' is missing") }
            return v
        }
        func int(_ key: String) throws -> Int {
            guard let v = Int(try value(key)) else {
                throw ShardError(.format, "\(path): metadata '\(key)' is not an integer")
            }
            return v
        }
        guard m["format"] == "videoar-shard" else { throw ShardError(.format, "\(path) is not a VideoAR shard") }
        guard m["format_version"] == Self.formatVersion else {
            throw ShardError(
                .format,
                "\(path): shard format \(m["format_version"] ?? "?") is not supported (this build reads \(Self.formatVersion))"
            )
        }
        bucket = try value("bucket")
        size = try int("size")
        width = try int("width")
        height = try int("height")
        frames = try int("frames")
        fps = Double(try value("fps")) ?? 0
        tokenizerID = try value("tokenizer_id")
        tokenizerName = try value("tokenizer_name")
        tokenizerTrained = try value("tokenizer_trained") == "true"
        latentFrames = try int("latent_frames")
        latentHeight = try int("latent_height")
        latentWidth = try int("latent_width")
        bitsPerToken = try int("bits_per_token")
        codeDecay = 0.8
        if let text = m["code_decay"] {
            guard let value = Double(text), value > 0, value <= 1 else {
                throw ShardError(.format, "\(path): metadata 'code_decay' is \(text); it must be a number in (0, 1]")
            }
            codeDecay = value
        }
        let schedule = try value("scale_schedule")
        guard let scales = (try? JSONSerialization.jsonObject(with: Data(schedule.utf8))) as? [[Int]], !scales.isEmpty,
            scales.allSatisfy({ $0.count == 2 && $0[0] > 0 && $0[1] > 0 })
        else {
            throw ShardError(.format, "\(path): scale_schedule \(schedule) is not a list of positive [h, w]")
        }
        self.scales = scales
        for (key, number) in [
            ("size", size), ("width", width), ("height", height), ("frames", frames), ("latent_frames", latentFrames),
            ("latent_height", latentHeight), ("latent_width", latentWidth), ("bits_per_token", bitsPerToken),
        ]
        where number <= 0 {
            throw ShardError(.format, "\(path): metadata '\(key)' is \(number); it must be positive")
        }
        guard Self.checkedBitsPerClip(latentFrames: latentFrames, scales: scales, bitsPerToken: bitsPerToken) != nil
        else {
            throw ShardError(
                .format,
                "\(path): latent_frames \(latentFrames) × scale_schedule \(schedule) × bits_per_token \(bitsPerToken) "
                    + "overflows as a bit count")
        }
    }

    /// `bitsPerClip` of untrusted numbers, or nil when it (or `bytesPerClip`'s + 7) overflows,
    /// so a layout read from a file never traps in the plain arithmetic above.
    static func checkedBitsPerClip(latentFrames: Int, scales: [[Int]], bitsPerToken: Int) -> Int? {
        var tokens = 0
        for scale in scales {
            let (area, o1) = scale[0].multipliedReportingOverflow(by: scale[1])
            let (sum, o2) = tokens.addingReportingOverflow(area)
            if o1 || o2 { return nil }
            tokens = sum
        }
        let (perFrame, o1) = latentFrames.multipliedReportingOverflow(by: tokens)
        let (bits, o2) = perFrame.multipliedReportingOverflow(by: bitsPerToken)
        return o1 || o2 || bits > Int.max - 7 ? nil : bits
    }
}
/// A shard failure: `ShardErrorCode`, a message, the cause.
public typealias ShardError = ModuleError<ShardErrorCode>

public enum ShardErrorCode: String, Sendable { case format, layout, io, mismatch }
