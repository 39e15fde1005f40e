import ArgumentParser
import ConfigCoding
import Foundation
import Logging
import Model
import Tensor
import Tokenizer
import VideoIO

/// Options shared by the commands that run the tokenizer.
struct TokenizerOptions: ParsableArguments {
    @Option(
        help:
            "Tokenizer weights (safetensors written by VideoAR); default: the shipped trained \(TokenizerLocator.shippedCheckpoint).",
        completion: .file(extensions: ["safetensors"]))
    var checkpoint: String?

    @Option(
        name: .customLong("tokenizer-config"),
        help:
            "A tokenizer layout (YAML, see Configs/tokenizer/) to run with its seeded, untrained initialisation; ignored with --checkpoint.",
        completion: .file(extensions: ["yaml", "yml"]))
    var tokenizerConfig: String?

    @Option(help: "Bucket size √(H·W).")
    var size: Int = 128

    @Option(help: "Frames per clip: 1 + 4k.")
    var frames: Int = 17

    @Option(help: "Target frame rate.")
    var fps: Double = 8

    @Option(help: "Clips to process from the file.")
    var maxClips: Int = 1

    @Option(help: "LibTorch intra-op threads (default: all cores).")
    var threads: Int?

    func makeTokenizer(logger: Logger) throws -> Tokenizer {
        try loadTokenizer(checkpoint: checkpoint, layout: tokenizerConfig, logger: logger)
    }

    /// The tokenizer (its identity printed first, so every output says whether it is
    /// trained) and the file's clips; exits 1 with the reason when there are none.
    func prepare(_ file: String, logger: Logger) throws -> (Tokenizer, [Clip]) {
        let tokenizer = try makeTokenizer(logger: logger)
        print("tokenizer \(tokenizer.identity)")
        let reader = try ClipReader(
            path: file,
            configuration: ClipConfiguration(
                fps: fps, frames: frames, maxClips: maxClips, buckets: BucketPolicy(sizes: [size])), logger: logger)
        let clips = try reader.readAll()
        if clips.isEmpty {
            print("no clips: \(reader.outcome?.noClipReason ?? "nothing decoded")")
            throw ExitCode(1)
        }
        return (tokenizer, clips)
    }
}

/// The tokenizer the library's search order picks (`TokenizerLocator`), layouts read as
/// YAML and the untrained-fallback warning on stderr.
func loadTokenizer(checkpoint: String?, layout: String?, logger: Logger) throws -> Tokenizer {
    try TokenizerLocator.load(
        checkpoint: checkpoint, layout: layout,
        readLayout: { try loadConfiguration(TokenizerConfiguration.self, from: $0) },
        logger: logger, warn: { printError("warning: " + $0) })
}

/// The tokenizer to decode `model`'s tokens with: the one asked for; else the shipped tokenizer
/// the model was trained on (it records the id); else the default.
func tokenizerFor(_ model: VideoARTransformer, checkpoint: String?, layout: String?, logger: Logger) throws
    -> Tokenizer
{
    if checkpoint == nil, layout == nil, let id = model.checkpointMetadata["videoar.tokenizer.id"], !id.isEmpty,
        let shipped = TokenizerLocator.shipped(id: id, logger: logger)
    {
        return shipped
    }
    return try loadTokenizer(checkpoint: checkpoint, layout: layout, logger: logger)
}

/// A clip's pixels as a uint8 [T, H, W, 3] tensor.
func videoTensor(_ clip: Clip) throws -> Tensor {
    try Tensor(clip.pixels, shape: [clip.frameCount, clip.height, clip.width, 3])
}

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Encode a file's clips into multi-scale bit tokens and summarise the token grid."
    )

    @Argument(help: "A video or image file.", completion: .file())
    var file: String

    @OptionGroup var options: TokenizerOptions
    @OptionGroup var global: GlobalOptions

    func run() throws {
        useTorchThreads(options.threads)
        let (tokenizer, clips) = try options.prepare(file, logger: global.makeLogger("videoar.tokenize"))
        for clip in clips {
            let video = try videoTensor(clip)
            let start = DispatchTime.now()
            let tokens = try tokenizer.encode(video)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
            let pixels = Double(clip.frameCount * clip.width * clip.height)
            print(
                "clip \(clip.bucket.slug) #\(clip.index)  start \(String(format: "%.3f", clip.startTime)) s  "
                    + "\(clip.frameCount)×\(clip.height)×\(clip.width) → latent \(tokens.latentFrames)×\(tokens.latentHeight)×\(tokens.latentWidth)"
            )
            print(
                "  scales per frame: \(tokens.schedule)  (\(tokens.schedule.scales.count) scales, \(tokens.schedule.tokensPerFrame) tokens)"
            )
            print(
                "  \(tokens.tokenCount) tokens × \(tokens.bitsPerToken) bits = \(tokens.bitCount) bits"
                    + String(
                        format: " (%.4f bits/pixel, %.0f× smaller than RGB)", Double(tokens.bitCount) / pixels,
                        pixels * 24 / Double(tokens.bitCount)))
            let ones = try tokens.bits.to(.float32).mean().item()
            print(String(format: "  share of 1 bits %.3f, encoded in %.2f s", ones, seconds))
        }
    }
}

struct ReconstructCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconstruct",
        abstract: "Encode and decode a file's clips; write original | reconstruction side by side and print PSNR."
    )

    @Argument(help: "A video or image file.", completion: .file())
    var file: String

    @Option(help: "Folder for recon-BUCKET-N.mp4 and .png.", completion: .directory)
    var out: String

    @OptionGroup var options: TokenizerOptions
    @OptionGroup var global: GlobalOptions

    func run() throws {
        useTorchThreads(options.threads)
        let (tokenizer, clips) = try options.prepare(file, logger: global.makeLogger("videoar.reconstruct"))
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        var total = 0.0
        for clip in clips {
            let original = try videoTensor(clip)
            let tokens = try tokenizer.encode(original)
            let rebuilt = try tokenizer.decode(tokens)
            let quality = try psnr(original, rebuilt)
            total += quality
            let sideBySide = try Tensor.cat([original, rebuilt], dim: 2)  // [T, H, 2W, 3]
            let pixels: [UInt8] = try sideBySide.scalars()
            let base = "\(out)/recon-\(clip.bucket.slug)-\(String(format: "%03d", clip.index))"
            try writeClip(
                pixels, count: clip.frameCount, width: clip.width * 2, height: clip.height, fps: clip.fps, to: base,
                columns: 3)
            let bpp = Double(tokens.bitCount) / Double(clip.frameCount * clip.width * clip.height)
            print(
                "clip \(clip.bucket.slug) #\(clip.index)  "
                    + String(format: "PSNR %.2f dB  (%d bits, %.4f bits/pixel)", quality, tokens.bitCount, bpp)
                    + "  → \(base).mp4, .png")
        }
        print(
            String(format: "mean PSNR %.2f dB over %d clip(s)", total / Double(clips.count), clips.count)
                + (tokenizer.identity.trained
                    ? ""
                    : " — UNTRAINED tokenizer: the reconstruction is noise; drop --tokenizer-config to use the trained default")
        )
    }
}
