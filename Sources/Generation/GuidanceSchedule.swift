import ConfigCoding

/// Temporal-spatial adaptive classifier-free guidance (method §5): the guidance γ of block
/// (frame t, scale k), applied to the bit logits as `γ·cond + (1 − γ)·uncond`.
///
/// The first scale of frame t ramps linearly from `first_start` (frame 0) to `first_end`
/// (the last frame); inside a frame γ rises linearly from that value to `last` at the finest
/// scale. The paper's presets: `ucf` (first scales 1 → 5 across frames, up to 10 within a
/// frame) and `t2v` (5 → 3, flat within a frame); `constant` is Infinity's single γ.
public struct GuidanceSchedule: Sendable, Equatable, ConfigurationSection {
    public var firstStart: Double
    public var firstEnd: Double
    /// γ at the finest scale of each frame; nil: the frame's first-scale γ throughout.
    public var last: Double?

    public init(firstStart: Double, firstEnd: Double, last: Double? = nil) {
        self.firstStart = firstStart
        self.firstEnd = firstEnd
        self.last = last
    }

    public static func constant(_ gamma: Double) -> Self { Self(firstStart: gamma, firstEnd: gamma) }
    /// UCF-101, class-conditional: first scales 1 → 5 across frames, rising within a frame up to 10.
    public static let ucf = Self(firstStart: 1, firstEnd: 5, last: 10)
    /// Text-to-video: 5 → 3 across frames.
    public static let t2v = Self(firstStart: 5, firstEnd: 3)

    public static var defaults: Self { .t2v }
    public static var keys: [ConfigurationKey<Self>] {
        [.init("first_start", \.firstStart), .init("first_end", \.firstEnd), .init("last", \.last)]
    }

    /// A preset by name (`ucf`, `t2v`, `none`) or a constant ("3.5").
    public init?(preset: String) {
        switch preset.lowercased() {
        case "ucf": self = .ucf
        case "t2v": self = .t2v
        case "none", "off": self = .constant(1)
        default:
            guard let gamma = Double(preset), gamma >= 0 else { return nil }
            self = .constant(gamma)
        }
    }

    /// γ of block (frame, scale) of a clip with `frames` latent frames and `scales` scales per frame.
    public func gamma(frame: Int, frames: Int, scale: Int, scales: Int) -> Double {
        let across = frames > 1 ? Double(frame) / Double(frames - 1) : 0
        let first = firstStart + (firstEnd - firstStart) * across
        guard let last, scales > 1 else { return first }
        return first + (last - first) * Double(scale) / Double(scales - 1)
    }

    /// Whether any block is guided (γ ≠ 1): only then is the unconditional half run.
    public var isGuided: Bool { firstStart != 1 || firstEnd != 1 || (last.map { $0 != 1 } ?? false) }
}
