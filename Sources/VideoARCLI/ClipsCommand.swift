import ArgumentParser
import ConfigCoding
import Foundation
import VideoIO

struct ClipsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clips",
        abstract: "Cut a file into training clips and show (or write) them.",
        discussion: """
            Prints each clip's bucket, start time, the presentation time of every source frame
            chosen and its curation scores (motion, share of flat frames, detail, perceptual hash),
            then the hard cuts found. With --out, writes each clip as MP4 plus a contact-sheet PNG to check by eye.
            """
    )

    @Argument(help: "A video or image file.", completion: .file())
    var file: String

    @Option(
        help: "A VideoIO configuration (YAML, see Configs/clips.yaml); flags below override it.",
        completion: .file(extensions: ["yaml", "yml"]))
    var config: String?

    @Option(help: "Target frame rate; frames are picked by nearest presentation time. (default: 8)")
    var fps: Double?

    @Option(help: "Frames per clip: 1 + 4k (17, 33, 49, 65). (default: 17)")
    var frames: Int?

    @Option(name: .customLong("size"), help: "Bucket size √(H·W); repeat for several. (default: 128, 256, 512)")
    var sizes: [Int] = []

    @Option(help: "Comma-separated aspect ratios to snap to. (default: 1:1,4:3,3:4,16:9,9:16,21:9)")
    var aspects: String?

    @Option(help: "Sampled frames between clip starts. (default: --frames, i.e. back to back)")
    var stride: Int?

    @Option(help: "At most this many clips per bucket.")
    var maxClips: Int?

    @Option(help: "Largest enlargement allowed; 1 skips buckets larger than the source. (default: 1)")
    var maxUpscale: Double?

    @Option(help: "Decoder threads, 0 = automatic. (default: 0)")
    var threads: Int?

    @Option(help: "Write clip-BUCKET-N.mp4 and .png here.", completion: .directory)
    var out: String?

    @OptionGroup var global: GlobalOptions

    /// The configuration file (or the defaults) with the command-line flags applied.
    func effectiveConfiguration() throws -> VideoIOConfiguration {
        var configuration = VideoIOConfiguration()
        if let config { configuration = try loadConfiguration(VideoIOConfiguration.self, from: config) }
        if let fps { configuration.clips.fps = fps }
        if let frames { configuration.clips.frames = frames }
        if !sizes.isEmpty { configuration.clips.buckets.sizes = sizes }
        if let aspects {
            configuration.clips.buckets.aspectRatios = try aspects.split(separator: ",").map { text in
                guard let aspect = AspectRatio(String(text.trimmingCharacters(in: .whitespaces))) else {
                    throw ValidationError("--aspects: '\(text)' is not an aspect ratio; write W:H, e.g. 16:9")
                }
                return aspect
            }
        }
        if let stride { configuration.clips.stride = stride }
        if let maxClips { configuration.clips.maxClips = maxClips }
        if let maxUpscale { configuration.clips.buckets.maxUpscale = maxUpscale }
        if let threads { configuration.clips.decoderThreads = threads }
        return configuration
    }

    func run() throws {
        let logger = global.makeLogger("videoar.clips")
        let settings: VideoIOConfiguration
        do {
            settings = try effectiveConfiguration()
            try settings.validate()
        } catch let error as ConfigurationError {
            printError("error: \(error)")
            throw ExitCode(64)
        } catch let error as VideoIOError {
            printError("error: \(error.message)")
            throw ExitCode(64)
        }
        let configuration = settings.clips
        let reader: ClipReader
        do {
            reader = try ClipReader(path: file, configuration: configuration, limits: settings.limits, logger: logger)
        } catch let error as VideoIOError {
            printError("error: \(error)")
            throw ExitCode(1)
        }
        if let out { try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true) }
        let media = reader.media
        print(
            "\(file): \(media.width)×\(media.height), \(media.isStillImage ? "still image" : formatSeconds(media.duration))"
        )
        if let crop = reader.crop { print("  content \(crop) (black bars cut off before bucketing)") }
        for bucket in reader.buckets { print("  bucket \(bucket)") }
        for skipped in reader.skippedBuckets { print("  skipped \(skipped)") }

        while let clip = try reader.next() {
            let times = clip.frameTimes.map { String(format: "%.3f", $0) }.joined(separator: " ")
            print(
                String(
                    format: "clip %@ #%d  start %.3f s  %d frames  source pts: %@",
                    clip.bucket.slug, clip.index, clip.startTime, clip.frameCount, times))
            if let q = clip.quality {
                print(
                    String(
                        format: "  motion %.2f  black %.0f%%  detail %.2f  hash %016llx%@", q.motion,
                        100 * q.blackFraction, q.detail, q.hash, q.singleShot ? "" : "  spans a cut"))
            }
            if let out {
                let base = "\(out)/clip-\(clip.bucket.slug)-\(String(format: "%03d", clip.index))"
                let writer = try VideoWriter(path: base + ".mp4", width: clip.width, height: clip.height, fps: clip.fps)
                for t in 0..<clip.frameCount { try writer.append(rgb: clip.frame(t)) }
                try writer.finish()
                let sheet = contactSheet(of: clip)
                try writePNG(rgb: sheet.rgb, width: sheet.width, height: sheet.height, to: base + ".png")
            }
        }
        guard let outcome = reader.outcome else { return }
        print(
            "\(outcome.totalClips) clip(s) from \(outcome.decodedFrames) decoded frames (\(outcome.sampledFrames) sampled at \(configuration.fps) fps)"
        )
        print(
            outcome.cuts.isEmpty
                ? "no hard cuts"
                : "hard cuts at " + outcome.cuts.map { String(format: "%.2f s", $0) }.joined(separator: ", ")
                    + (configuration.splitAtCuts ? " (clips restart after each)" : " (not split: split_at_cuts is off)")
        )
        for note in outcome.notes { print("note: \(note)") }
        if let reason = outcome.noClipReason { print("no clips: \(reason)") }
        if let damage = outcome.damage {
            printError("stopped early at \(formatSeconds(outcome.stoppedAt)): \(damage)")
            throw ExitCode(2)
        }
        if let out { print("wrote \(outcome.totalClips) MP4 + PNG pair(s) to \(out)") }
    }
}
