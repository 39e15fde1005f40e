import Catalog
import Foundation
import ConfigCoding

/// One source of a stage's clips: a catalog query and how much of it an epoch takes.
///
/// Stage I of the method is `[{size: 128, frames: 1}, {size: 128, frames: 17}]` (stills and
/// low-resolution clips); stage III is `[{min_frames: 49}]`. `latent_frames` trains on the
/// start of longer clips: `{size: 128, frames: 17, latent_frames: 2}` is a 5-frame clip from
/// each 17-frame one, at the token cost of 5 frames.
public struct DataQuery: Sendable, Equatable, Codable, ConfigurationSection {
    public var size: Int?
    public var frames: Int?
    public var minFrames: Int?
    public var minDuration: Double?
    public var maxDuration: Double?
    /// "16:9".
    public var aspect: String?
    /// Full-text search over captions (FTS5 syntax).
    public var caption: String?
    /// Only clips of this tokenizer id (a run must use one tokenizer; the first clip's decides otherwise).
    public var tokenizer: String?
    /// Times each matching clip appears per epoch: 2 doubles a query's share, 0.5 takes a
    /// seeded half of it (a different half each epoch).
    public var weight: Double
    /// Curation filters, as `videoar query` has them: smallest motion score, largest share of
    /// black frames, no near-duplicates, only clips known not to span a cut.
    public var minMotion: Double?
    public var maxBlack: Double?
    public var noNearDuplicates: Bool
    public var singleShot: Bool
    /// Train on the first n latent frames of each clip only (nil: all of them). The tokenizer
    /// is causal, so they are exactly the tokens of the clip's first 1 + τ·(n − 1) frames: a
    /// shorter clip for free, and attention cost grows with the square of the tokens.
    public var latentFrames: Int?

    public init(
        size: Int? = nil, frames: Int? = nil, minFrames: Int? = nil, minDuration: Double? = nil,
        maxDuration: Double? = nil, aspect: String? = nil, caption: String? = nil, tokenizer: String? = nil,
        weight: Double = 1, minMotion: Double? = nil, maxBlack: Double? = nil, noNearDuplicates: Bool = false,
        singleShot: Bool = false, latentFrames: Int? = nil
    ) {
        self.size = size
        self.frames = frames
        self.minFrames = minFrames
        self.minDuration = minDuration
        self.maxDuration = maxDuration
        self.aspect = aspect
        self.caption = caption
        self.tokenizer = tokenizer
        self.weight = weight
        self.minMotion = minMotion
        self.maxBlack = maxBlack
        self.noNearDuplicates = noNearDuplicates
        self.singleShot = singleShot
        self.latentFrames = latentFrames
    }

    public static var defaults: Self { Self() }
    public static var keys: [ConfigurationKey<Self>] {
        [
            .init("size", \.size), .init("frames", \.frames), .init("min_frames", \.minFrames),
            .init("min_duration", \.minDuration), .init("max_duration", \.maxDuration), .init("aspect", \.aspect),
            .init("caption", \.caption), .init("tokenizer", \.tokenizer), .init("weight", \.weight),
            .init("min_motion", \.minMotion), .init("max_black", \.maxBlack),
            .init("no_near_duplicates", \.noNearDuplicates), .init("single_shot", \.singleShot), .init("latent_frames", \.latentFrames),
        ]
    }

    /// The catalog query (no row limit: the loader wants every match).
    public var clipQuery: ClipQuery {
        ClipQuery(
            size: size, frames: frames, minFrames: minFrames, minDuration: minDuration, maxDuration: maxDuration,
            aspect: aspect, caption: caption, tokenizer: tokenizer, limit: Int.max, minMotion: minMotion,
            maxBlack: maxBlack, noNearDuplicates: noNearDuplicates, singleShot: singleShot)
    }

    /// The queries as sorted-key JSON: equal exactly when every key of every query is.
    public static func fingerprint(_ queries: [DataQuery]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(queries)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    /// "size 128, frames 17" for logs.
    public var summary: String {
        var parts: [String] = []
        if let size { parts.append("size \(size)") }
        if let frames { parts.append("frames \(frames)") }
        if let minFrames { parts.append("frames ≥ \(minFrames)") }
        if let minDuration { parts.append("≥ \(minDuration) s") }
        if let maxDuration { parts.append("≤ \(maxDuration) s") }
        if let aspect { parts.append(aspect) }
        if let caption { parts.append("caption '\(caption)'") }
        if let minMotion { parts.append("motion ≥ \(minMotion)") }
        if let maxBlack { parts.append("black ≤ \(maxBlack)") }
        if noNearDuplicates { parts.append("no near-duplicates") }
        if singleShot { parts.append("single-shot") }
        if let latentFrames { parts.append("first \(latentFrames) latent frame\(latentFrames == 1 ? "" : "s")") }
        if weight != 1 { parts.append("×\(weight)") }
        return parts.isEmpty ? "every clip" : parts.joined(separator: ", ")
    }
}

/// Which sources are held out: a fixed share, chosen by hashing each source's content hash
/// with a salt, so a source is on the same side in every run, stage and epoch.
public struct HeldOutSplit: Sendable, Equatable, Codable, ConfigurationSection {
    /// Share of sources held out, in [0, 1).
    public var fraction: Double
    /// Changes which sources fall on which side.
    public var salt: String

    public init(fraction: Double = 0.1, salt: String = "videoar") {
        self.fraction = fraction
        self.salt = salt
    }

    public static var defaults: Self { Self() }
    public static var keys: [ConfigurationKey<Self>] { [.init("fraction", \.fraction), .init("salt", \.salt)] }

    /// Whether the source with this key (content hash) is held out.
    public func isHeldOut(_ sourceKey: String) -> Bool {
        guard fraction > 0 else { return false }
        return Double(stableHash(salt + "\u{0}" + sourceKey) % 1_000_000) < fraction * 1_000_000
    }
}
