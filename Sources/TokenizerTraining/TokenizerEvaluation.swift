import AtomicFiles
import Foundation
import Logging
import Tensor
import Tokenizer
import VideoIO

/// Evaluates a tokenizer on held-out clips next to H.264 at the same bits per pixel.
///
/// For every clip: encode → bits → decode, PSNR and SSIM against the original; then
/// libx264 (through the `ffmpeg` CLI) encodes the same frames with the quality searched so
/// its stream is no larger than the token stream, and is measured the same way. Bits per
/// pixel are the raw token bits (T′ × tokens × d) and, for H.264, the Annex-B stream
/// without x264's informational SEI message (≈ 600 bytes of encoder settings that would
/// otherwise dominate such short clips).
public struct TokenizerEvaluation {
    public struct ClipResult: Codable, Sendable {
        public var source: String
        public var bucket: String
        public var start: Double
        public var oursBitsPerPixel: Double
        public var oursPSNR: Double
        public var oursSSIM: Double
        /// Our reconstruction's per-channel (R, G, B) mean minus the original's: a global tint.
        public var oursMeanError: [Double]
        public var h264BitsPerPixel: Double
        public var h264PSNR: Double
        public var h264SSIM: Double
        /// x264's CRF that met the budget (51 means even the lowest quality did not fit).
        public var h264CRF: Double
        /// PSNR of the frames a latent frame is anchored at (0, τ, 2τ, …) and of the frames
        /// between them: a model that does not use time (an inflated image model) rebuilds
        /// the in-between frames as copies, which only this split shows.
        public var keyFramePSNR: Double?
        public var betweenFramePSNR: Double?
        /// Mean ‖residual‖ of the unit latent before the first scale and after each scale.
        public var residualNorms: [Double]?
    }

    public struct BucketRow: Codable, Sendable {
        public var bucket: String
        public var clips: Int
        public var oursBitsPerPixel: Double
        public var oursPSNR: Double
        public var oursSSIM: Double
        /// Mean over the clips of `ClipResult.oursMeanError` (R, G, B).
        public var oursMeanError: [Double]
        public var h264BitsPerPixel: Double
        public var h264PSNR: Double
        public var h264SSIM: Double
        /// Means of `ClipResult.keyFramePSNR` and `betweenFramePSNR`.
        public var keyFramePSNR: Double?
        public var betweenFramePSNR: Double?
        /// Mean over the clips of `ClipResult.residualNorms`, per scale.
        public var residualNorms: [Double]?
    }

    public struct Report: Codable, Sendable {
        public var tokenizer: String
        public var fps: Double
        public var frames: Int
        public var clips: [ClipResult]
        public var buckets: [BucketRow]
        /// Each bit's mean over every token of every clip, and how many lie in [0.1, 0.9].
        public var bitMeans: [Double]
        public var bitsUsed: Int
        /// Flat colours, colour bars and gradients (`ColourPatterns`) at 128² × `frames`.
        public var patterns: [PatternResult]
    }

    public var configuration: ClipConfiguration
    public var ffmpeg: String
    public var logger: Logger

    public init(configuration: ClipConfiguration, ffmpeg: String = "ffmpeg", logger: Logger) {
        self.configuration = configuration
        self.ffmpeg = ffmpeg
        self.logger = logger
    }

    /// Runs the evaluation over every video under `paths`, then over `ColourPatterns`; `grid`
    /// (if given) receives the original | ours | H.264 PNG, `patternGrid` original | ours.
    public func run(
        tokenizer: Tokenizer, paths: [String], grid: String?, patternGrid: String? = nil,
        progress: (String) -> Void = { _ in }
    ) throws -> Report {
        let files = try TrainingFrames.files(in: paths, exclude: [], limit: nil)
        guard !files.isEmpty else {
            throw TrainingError(.evaluation, "no files under \(paths.joined(separator: ", "))")
        }
        var results: [ClipResult] = []
        var bitSums: [Double] = []
        var bitCount = 0
        var gridFrames: [UInt8] = []
        var gridRows = 0
        var gridSize: (Int, Int)? = nil
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("videoar-eval-\(getpid())").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }

        for file in files {
            let reader: ClipReader
            do { reader = try ClipReader(path: file, configuration: configuration, logger: logger) } catch {
                progress("skipped \(file): \(error)")
                continue
            }
            var first = true
            while let clip = try reader.next() {
                let original = try Tensor(clip.pixels, shape: [clip.frameCount, clip.height, clip.width, 3])
                let (tokens, residualNorms) = try tokenizer.encodeMeasuringResidual(original)
                let ours = try tokenizer.decode(tokens)
                let tau = tokenizer.configuration.temporalFactor
                let keyFrames = Array(stride(from: 0, to: clip.frameCount, by: tau))
                let between = (0..<clip.frameCount).filter { $0 % tau != 0 }
                let pixels = Double(clip.frameCount * clip.width * clip.height)
                let tokenBits = tokens.bits.count  // one element per bit
                let bitMeans = try tokens.bits.to(.float64).sum(dims: [0, 1]).scalars(as: Double.self)
                if bitSums.isEmpty { bitSums = bitMeans } else { bitSums = zip(bitSums, bitMeans).map(+) }
                bitCount += tokens.bits.shape[0] * tokens.bits.shape[1]

                let h264 = try encodeH264(clip, budgetBits: tokenBits, scratch: scratch)
                let h264Frames = try Tensor(h264.pixels, shape: [clip.frameCount, clip.height, clip.width, 3])
                let result = ClipResult(
                    source: (file as NSString).lastPathComponent, bucket: clip.bucket.slug, start: clip.startTime,
                    oursBitsPerPixel: Double(tokenBits) / pixels, oursPSNR: try psnr(ours, original),
                    oursSSIM: try Self.ssim(ours, original),
                    oursMeanError: zip(
                        try ColourPatterns.channelMeans(ours), try ColourPatterns.channelMeans(original)
                    ).map(-),
                    h264BitsPerPixel: Double(h264.bits) / pixels,
                    h264PSNR: try psnr(h264Frames, original), h264SSIM: try Self.ssim(h264Frames, original),
                    h264CRF: h264.crf, keyFramePSNR: try Self.framePSNR(ours, original, frames: keyFrames),
                    betweenFramePSNR: try Self.framePSNR(ours, original, frames: between),
                    residualNorms: residualNorms)
                results.append(result)
                progress(
                    String(
                        format:
                            "%@ @%.2fs %@: ours %.4f bpp %.2f dB SSIM %.3f | H.264 %.4f bpp %.2f dB SSIM %.3f (crf %.1f)",
                        result.source, result.start, clip.bucket.slug, result.oursBitsPerPixel, result.oursPSNR,
                        result.oursSSIM, result.h264BitsPerPixel, result.h264PSNR, result.h264SSIM, result.h264CRF))
                if first, gridSize == nil || gridSize! == (clip.width, clip.height) {
                    gridSize = (clip.width, clip.height)
                    let oursPixels = try ours.contiguous().scalars(as: UInt8.self)
                    let frameBytes = clip.frameBytes
                    for t in [0, clip.frameCount - 1] {
                        let range = (t * frameBytes)..<((t + 1) * frameBytes)
                        gridFrames += clip.pixels[range]
                        gridFrames += oursPixels[range]
                        gridFrames += h264.pixels[range]
                        gridRows += 1
                    }
                }
                first = false
            }
        }
        guard !results.isEmpty else {
            throw TrainingError(
                .evaluation,
                "no \(configuration.frames)-frame clips at \(configuration.fps) fps in \(paths.joined(separator: ", "))"
            )
        }
        if let grid, let (w, h) = gridSize {
            let sheet = contactSheet(frames: gridFrames, count: gridRows * 3, width: w, height: h, columns: 3)
            try writePNG(rgb: sheet.rgb, width: sheet.width, height: sheet.height, to: grid)
        }
        let means = bitSums.map { $0 / Double(max(bitCount, 1)) }
        let side = configuration.buckets.sizes.first ?? 128
        let patterns = try Self.patterns(
            tokenizer: tokenizer, width: side, height: side, frames: configuration.frames, grid: patternGrid)
        return Report(
            tokenizer: "\(tokenizer.identity)", fps: configuration.fps, frames: configuration.frames, clips: results,
            buckets: Self.rows(results), bitMeans: means, bitsUsed: means.filter { (0.1...0.9).contains($0) }.count,
            patterns: patterns)
    }

    static func rows(_ results: [ClipResult]) -> [BucketRow] {
        var groups: [String: [ClipResult]] = [:]
        for r in results { groups[r.bucket, default: []].append(r) }
        func row(_ name: String, _ rs: [ClipResult]) -> BucketRow {
            func mean(_ f: (ClipResult) -> Double) -> Double { rs.map(f).reduce(0, +) / Double(rs.count) }
            return BucketRow(
                bucket: name, clips: rs.count, oursBitsPerPixel: mean(\.oursBitsPerPixel), oursPSNR: mean(\.oursPSNR),
                oursSSIM: mean(\.oursSSIM),
                oursMeanError: (0..<3).map { c in mean { $0.oursMeanError[c] } },
                h264BitsPerPixel: mean(\.h264BitsPerPixel), h264PSNR: mean(\.h264PSNR),
                h264SSIM: mean(\.h264SSIM), keyFramePSNR: mean { $0.keyFramePSNR ?? .nan },
                betweenFramePSNR: mean { $0.betweenFramePSNR ?? .nan },
                residualNorms: rs.first?.residualNorms.map { first in
                    first.indices.map { k in mean { $0.residualNorms?[k] ?? .nan } }
                })
        }
        var rows = groups.keys.sorted().map { row($0, groups[$0]!) }
        if rows.count > 1 { rows.append(row("all", results)) }
        return rows
    }

    /// PSNR of the listed frames of two uint8 [T, H, W, 3] videos (nil when none are listed).
    static func framePSNR(_ a: Tensor, _ b: Tensor, frames: [Int]) throws -> Double? {
        guard !frames.isEmpty else { return nil }
        let index = try Tensor(frames.map { Int64($0) }, shape: [frames.count])
        return try psnr(a.indexSelect(dim: 0, index), b.indexSelect(dim: 0, index))
    }

    /// Mean SSIM of two uint8 [T, H, W, 3] videos (per frame, scikit-image's defaults).
    public static func ssim(_ a: Tensor, _ b: Tensor) throws -> Double {
        func frames(_ v: Tensor) throws -> Tensor { try v.to(.float64).permuted([0, 3, 1, 2]).contiguous() }
        return try withoutGrad { try ImageQuality.ssim(frames(a), frames(b), range: 255).item() }
    }

    // MARK: - H.264 at a bit budget

    struct Encoded {
        var pixels: [UInt8]
        var bits: Int
        var crf: Double
    }

    /// The best-quality x264 encoding (CRF searched by bisection) whose stream fits `budgetBits`.
    func encodeH264(_ clip: Clip, budgetBits: Int, scratch: String) throws -> Encoded {
        let raw = scratch + "/clip.rgb"
        try Data(clip.pixels).write(to: URL(fileURLWithPath: raw))
        func encode(_ crf: Double) throws -> [UInt8] {
            let out = scratch + "/clip.h264"
            try runFFmpeg([
                "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "\(clip.width)x\(clip.height)",
                "-r", String(clip.fps), "-i", raw, "-c:v", "libx264", "-preset", "medium",
                "-crf", String(format: "%.2f", crf), "-pix_fmt", "yuv420p", "-f", "h264", out,
            ])
            return Self.withoutSEI(Array(try Data(contentsOf: URL(fileURLWithPath: out))))
        }
        var lo = 0.0, hi = 51.0
        var best = (crf: hi, stream: try encode(hi))  // kept even if over budget: the lowest quality
        if best.stream.count * 8 <= budgetBits {
            for _ in 0..<8 {  // CRF is monotone in size, near enough
                let mid = (lo + hi) / 2
                let stream = try encode(mid)
                if stream.count * 8 <= budgetBits {
                    best = (mid, stream)
                    hi = mid
                } else {
                    lo = mid
                }
            }
        }
        let stream = scratch + "/best.h264", decoded = scratch + "/best.rgb"
        try Data(best.stream).write(to: URL(fileURLWithPath: stream))
        try runFFmpeg(["-f", "h264", "-i", stream, "-f", "rawvideo", "-pix_fmt", "rgb24", decoded])
        let pixels = Array(try Data(contentsOf: URL(fileURLWithPath: decoded)))
        guard pixels.count == clip.pixels.count else {
            throw TrainingError(
                .evaluation, "H.264 round trip gave \(pixels.count) bytes for a \(clip.pixels.count)-byte clip")
        }
        return Encoded(pixels: pixels, bits: best.stream.count * 8, crf: best.crf)
    }

    /// The Annex-B stream minus SEI NAL units (type 6), which carry no picture data.
    static func withoutSEI(_ stream: [UInt8]) -> [UInt8] {
        var starts: [Int] = []  // offsets of 00 00 01 start codes
        var i = 0
        while i + 2 < stream.count {
            if stream[i] == 0, stream[i + 1] == 0, stream[i + 2] == 1 {
                starts.append(i)
                i += 3
            } else {
                i += 1
            }
        }
        var out: [UInt8] = []
        for (k, start) in starts.enumerated() {
            var begin = start
            if begin > 0, stream[begin - 1] == 0 { begin -= 1 }  // 4-byte start code
            let end =
                k + 1 < starts.count
                ? (stream[starts[k + 1] - 1] == 0 ? starts[k + 1] - 1 : starts[k + 1]) : stream.count
            let header = start + 3
            guard header < stream.count else { continue }
            if stream[header] & 0x1F == 6 { continue }
            out += stream[begin..<end]
        }
        return out
    }

    func runFFmpeg(_ arguments: [String]) throws {
        let result: Subprocess.Result
        do {
            result = try Subprocess.run(
                "/usr/bin/env", [ffmpeg, "-hide_banner", "-loglevel", "error", "-y"] + arguments)
        } catch {
            throw TrainingError(
                .evaluation, "cannot run \(ffmpeg) (install it: bash Scripts/bootstrap)", cause: "\(error)")
        }
        guard result.status == 0 else {
            throw TrainingError(
                .evaluation, "ffmpeg failed (\(arguments.joined(separator: " ")))", cause: result.stderr)
        }
    }
}
