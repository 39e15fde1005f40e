import Foundation
import Tensor
import Tokenizer
import VideoIO

/// Synthetic clips a tokenizer must get right and that real footage rarely isolates: flat
/// colours (a global tint or an unreachable colour shows at once), colour bars and gradients.
///
/// PSNR alone hides a tint spread over a whole frame, so every result also carries the
/// per-channel mean colour of the original and of the reconstruction.
public enum ColourPatterns {
    /// A named uint8 [T, H, W, 3] clip.
    public struct Pattern: Sendable {
        public var name: String
        public var pixels: [UInt8]
    }

    /// Flat colours, 75 % colour bars and three gradients, `frames` identical frames each.
    public static func all(width: Int, height: Int, frames: Int) -> [Pattern] {
        let flat: [(String, [UInt8])] = [
            ("red", [255, 0, 0]), ("green", [0, 255, 0]), ("blue", [0, 0, 255]), ("yellow", [255, 255, 0]),
            ("cyan", [0, 255, 255]), ("magenta", [255, 0, 255]), ("white", [255, 255, 255]), ("black", [0, 0, 0]),
            ("gray", [128, 128, 128]), ("dark purple", [96, 32, 64]), ("navy", [20, 30, 90]),
            ("skin", [224, 172, 140]),
        ]
        var patterns = flat.map { name, rgb in
            Pattern(name: "flat \(name)", pixels: frame(width, height) { _, _ in rgb })
        }
        let bars: [[UInt8]] = [
            [191, 191, 191], [191, 191, 0], [0, 191, 191], [0, 191, 0], [191, 0, 191], [191, 0, 0], [0, 0, 191],
            [0, 0, 0],
        ]
        patterns.append(Pattern(name: "colour bars", pixels: frame(width, height) { x, _ in bars[x * 8 / width] }))
        patterns.append(
            Pattern(
                name: "gradient black→white",
                pixels: frame(width, height) { x, _ in
                    let v = UInt8(x * 255 / (width - 1))
                    return [v, v, v]
                }))
        patterns.append(
            Pattern(
                name: "gradient red→blue",
                pixels: frame(width, height) { x, _ in
                    let v = x * 255 / (width - 1)
                    return [UInt8(255 - v), 0, UInt8(v)]
                }))
        patterns.append(
            Pattern(name: "gradient hue", pixels: frame(width, height) { _, y in hue(Double(y) / Double(height)) }))
        return patterns.map {
            Pattern(name: $0.name, pixels: Array([[UInt8]](repeating: $0.pixels, count: frames).joined()))
        }
    }

    /// One H × W × 3 frame from a colour per (x, y).
    static func frame(_ width: Int, _ height: Int, _ colour: (Int, Int) -> [UInt8]) -> [UInt8] {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let c = colour(x, y)
                let i = (y * width + x) * 3
                pixels[i] = c[0]
                pixels[i + 1] = c[1]
                pixels[i + 2] = c[2]
            }
        }
        return pixels
    }

    /// Fully saturated colour at hue `h` ∈ [0, 1).
    static func hue(_ h: Double) -> [UInt8] {
        let k = h * 6
        let f = k - k.rounded(.down)
        let up = UInt8(f * 255), down = UInt8((1 - f) * 255)
        switch Int(k) % 6 {
        case 0: return [255, up, 0]
        case 1: return [down, 255, 0]
        case 2: return [0, 255, up]
        case 3: return [0, down, 255]
        case 4: return [up, 0, 255]
        default: return [255, 0, down]
        }
    }

    /// Mean of each channel of a uint8 [T, H, W, 3] video.
    public static func channelMeans(_ video: Tensor) throws -> [Double] {
        try video.to(.float64).mean(dims: [0, 1, 2]).scalars(as: Double.self)
    }
}

extension TokenizerEvaluation {
    /// How a tokenizer reproduced one synthetic pattern.
    public struct PatternResult: Codable, Sendable {
        public var name: String
        public var psnr: Double
        public var ssim: Double
        /// Per-channel (R, G, B) means, 0–255.
        public var originalMean: [Double]
        public var reconstructedMean: [Double]
        /// reconstructed − original, per channel: a tint shows here even when PSNR looks fine.
        public var meanError: [Double]
    }

    /// Encodes and decodes every `ColourPatterns` clip at `width` × `height` × `frames`;
    /// `grid` (if given) receives original | ours, one frame per pattern.
    public static func patterns(
        tokenizer: Tokenizer, width: Int = 128, height: Int = 128, frames: Int = 17, grid: String? = nil
    ) throws -> [PatternResult] {
        var results: [PatternResult] = []
        var sheet: [UInt8] = []
        let frameBytes = width * height * 3
        for pattern in ColourPatterns.all(width: width, height: height, frames: frames) {
            let original = try Tensor(pattern.pixels, shape: [frames, height, width, 3])
            let ours = try tokenizer.decode(tokenizer.encode(original))
            let a = try ColourPatterns.channelMeans(original), b = try ColourPatterns.channelMeans(ours)
            results.append(
                PatternResult(
                    name: pattern.name, psnr: try psnr(ours, original), ssim: try ssim(ours, original),
                    originalMean: a, reconstructedMean: b, meanError: zip(b, a).map(-)))
            let last = (frames - 1) * frameBytes
            sheet += pattern.pixels[last..<(last + frameBytes)]
            sheet += try ours.contiguous().scalars(as: UInt8.self)[last..<(last + frameBytes)]
        }
        if let grid {
            let image = contactSheet(frames: sheet, count: results.count * 2, width: width, height: height, columns: 4)
            try writePNG(rgb: image.rgb, width: image.width, height: image.height, to: grid)
        }
        return results
    }
}
