import ArgumentParser
import Foundation
import Generation
import Logging
import Model
import Tensor
import TokenFormat
import Tokenizer
import VideoIO

/// `videoar generate`: video from a caption, through the KV-cached sampler and the tokenizer's decoder.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate clips from a caption with a trained model: MP4 + contact sheet per sample.",
        discussion: """
            One forward per (latent frame, scale) block with a KV cache; the bits of each block are drawn from \
            the guided logits. --cfg takes a preset (t2v: γ 5 → 3 across frames; ucf: first scales 1 → 5, up to \
            10 within a frame; none) or a constant γ. Seeded runs are reproducible.
            """
    )

    @Option(help: "The caption to generate from (empty: unconditional).")
    var prompt: String = ""

    /// The demo model shipped in the repository (stage I of Configs/model/cpu-small.yaml).
    static let shippedModel = "Configs/model/cpu-small.safetensors"

    /// `--model`, or the shipped model when it is not given.
    static func modelPath(_ model: String?) throws -> String {
        guard let path = model ?? TokenizerLocator.shippedFile(shippedModel) else {
            throw ValidationError("no --model given and the shipped \(shippedModel) is missing: pass --model")
        }
        return path
    }

    @Option(
        help:
            "The model (safetensors written by `videoar train`, e.g. runs/model-cpu-small/model.safetensors); default: the shipped \(shippedModel).",
        completion: .file(extensions: ["safetensors"]))
    var model: String?

    @Option(
        help:
            "Tokenizer weights; default: the shipped tokenizer the model was trained on (it records the id), else \(TokenizerLocator.shippedCheckpoint).",
        completion: .file(extensions: ["safetensors"]))
    var checkpoint: String?

    @Option(
        name: .customLong("tokenizer-config"),
        help:
            "A tokenizer layout (YAML) for its seeded, untrained initialisation (what a model trained on such tokens needs).",
        completion: .file(extensions: ["yaml", "yml"]))
    var tokenizerConfig: String?

    @Option(help: "Frames per clip: 1 + 4k.")
    var frames: Int = 17

    @Option(help: "Frames the model makes at once (its trained length); longer videos continue window by window.")
    var window: Int = 17

    @Option(help: "Past --window, each new window starts from this many re-encoded frames of the video so far.")
    var reencode: Int = 5

    @Option(
        help:
            "Past --window frames: reencode (decode, re-encode the last --reencode frames, continue; the paper's way) or slide (each latent frame attends to a window's worth before it; nothing re-encoded)."
    )
    var continuation: String = "reencode"

    @Option(help: "Bucket size √(H·W).")
    var size: Int = 128

    @Option(help: "Aspect ratio W:H.")
    var aspect: String = "4:3"

    @Option(
        help: "Image-to-video: the first frame is this image (cropped and resized to the bucket).", completion: .file())
    var image: String?

    @Option(help: "Video-to-video: continue this video from its first --context frames.", completion: .file())
    var video: String?

    @Option(help: "Frames of --video kept as context: 1 + 4k, fewer than --frames.")
    var context: Int = 5

    @Option(help: "Guidance: t2v, ucf, none, or a constant γ.")
    var cfg: String = "t2v"

    @Option(help: "Divides the guided logits (lower: more certain bits).")
    var temperature: Double = 1

    @Option(name: .customLong("top-p"), help: "A bit whose likelier value has at least this probability takes it.")
    var topP: Double = 0.97

    @Option(help: "Random seed (the same seed gives the same clips).")
    var seed: UInt64 = 0

    @Option(help: "Samples to generate.")
    var count: Int = 1

    @Option(help: "Frame rate of the written MP4s.")
    var fps: Double = 8

    @Option(help: "Output folder.", completion: .directory)
    var out: String

    @Option(help: "LibTorch intra-op threads for decoding (default: all cores).")
    var threads: Int?

    @Option(help: "LibTorch threads while sampling: its block steps are many small operations, fastest on one.")
    var samplingThreads: Int = 1

    @OptionGroup var global: GlobalOptions

    func run() throws {
        let logger = global.makeLogger("videoar.generate")
        useTorchThreads(threads)
        guard let guidance = GuidanceSchedule(preset: cfg) else {
            throw ValidationError("--cfg must be t2v, ucf, none or a number ≥ 0, got '\(cfg)'")
        }
        guard let ratio = AspectRatio(aspect) else {
            throw ValidationError("--aspect must look like 16:9, got '\(aspect)'")
        }
        guard count > 0 else { throw ValidationError("--count must be positive") }
        let continuation = try VideoGenerator.Continuation(option: continuation)
        let model = try Self.modelPath(model)
        let network = try exiting(on: ModelError.self) { try VideoARTransformer(checkpoint: model) }
        let tokenizer = try tokenizerFor(network, checkpoint: checkpoint, layout: tokenizerConfig, logger: logger)
        if let trainedOn = network.checkpointMetadata["videoar.tokenizer.id"], !trainedOn.isEmpty,
            trainedOn != tokenizer.identity.id
        {
            printError(
                "error: \(model) was trained on tokens of tokenizer \(trainedOn); this is \(tokenizer.identity) "
                    + "(pass that tokenizer with --checkpoint)")
            throw ExitCode(2)
        }
        let t = tokenizer.configuration
        guard (frames - 1) % t.temporalFactor == 0, frames >= 1 else {
            throw ValidationError("--frames must be 1 + \(t.temporalFactor)k (1, 5, 9, 13, 17, …), got \(frames)")
        }
        let bucket = Bucket(size: size, aspect: ratio, multiple: t.spatialFactor)
        let grid = (height: bucket.height / t.spatialFactor, width: bucket.width / t.spatialFactor)
        let schedule = ScaleSchedule(height: grid.height, width: grid.width, sides: t.scaleSides)
        guard window >= 1, (window - 1) % t.temporalFactor == 0, (reencode - 1) % t.temporalFactor == 0,
            reencode < window
        else {
            throw ValidationError(
                "--window and --reencode must be 1 + \(t.temporalFactor)k with --reencode < --window, got \(window) and \(reencode)"
            )
        }
        let layout = SequenceLayout(frames: t.latentFrames(min(frames, window)), schedule: schedule)
        var prefix: Tensor? = nil
        if image != nil, video != nil { throw ValidationError("give --image or --video, not both") }
        if let source = image ?? video {
            let kept = image != nil ? 1 : context
            guard (kept - 1) % t.temporalFactor == 0, kept < frames else {
                throw ValidationError(
                    "--context must be 1 + \(t.temporalFactor)k and fewer than --frames (\(frames)), got \(kept)")
            }
            let reader = try ClipReader(
                path: source,
                configuration: ClipConfiguration(
                    fps: fps, frames: kept, maxClips: 1,
                    buckets: BucketPolicy(
                        sizes: [size], aspectRatios: [ratio], multiple: t.spatialFactor, maxUpscale: 8)),
                logger: logger)
            guard let clip = try reader.readAll().first else {
                printError(
                    "error: no \(kept)-frame clip from \(source): \(reader.outcome?.noClipReason ?? "nothing decoded")")
                throw ExitCode(1)
            }
            let tokens = try tokenizer.encode(videoTensor(clip))
            prefix = try tokens.bits.unsqueezed(dim: 0)  // [1, P, L_f, d]
            print("context: \(kept) frame(s) of \(source) → \(tokens.latentFrames) latent frame(s) kept as they are")
        }
        print(
            "model \(network.configuration.name) (\(network.parameterCount) parameters), tokenizer \(tokenizer.identity)"
        )
        let latentFrames = frames > window && continuation == .slidingWindow ? t.latentFrames(frames) : layout.frames
        print(
            "\(count) × \(frames) frames at \(bucket.width)×\(bucket.height): \(latentFrames) latent frames × "
                + "\(layout.scalesPerFrame) scales = \(latentFrames * layout.scalesPerFrame) steps"
                + (frames > window && continuation == .reencode ? " per window" : "")
                + ", \(layout.schedule.tokensPerFrame * latentFrames) tokens each"
        )
        let started = Date()
        let videos = try VideoGenerator(
            sampler: Sampler(model: network), tokenizer: tokenizer, samplingThreads: samplingThreads
        ).generate(
            captions: Array(repeating: prompt.isEmpty ? nil : prompt, count: count), frames: frames, window: window,
            context: reencode, continuation: continuation, schedule: schedule,
            options: .init(guidance: guidance, temperature: temperature, topP: topP, seed: seed), prefix: prefix
        ) { w, windows, done, total in
            if done % layout.scalesPerFrame == 0 || done == total {
                printNow("  " + (windows > 1 ? "window \(w + 1)/\(windows) " : "") + "step \(done)/\(total)")
            }
        }
        let seconds = Date().timeIntervalSince(started)
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        for (i, video) in videos.enumerated() {
            let pixels: [UInt8] = try video.scalars()
            let base = out + "/sample-\(String(format: "%03d", i))"
            try writeClip(pixels, count: frames, width: bucket.width, height: bucket.height, fps: fps, to: base)
            print("  \(base).mp4, \(base).png")
        }
        print(String(format: "generated and decoded in %.2f s (seed %llu)", seconds, seed))
    }
}

extension VideoGenerator.Continuation {
    /// `--continuation`'s value.
    init(option: String) throws {
        guard let parsed = Self(rawValue: option) else {
            throw ValidationError("--continuation must be reencode or slide, got '\(option)'")
        }
        self = parsed
    }
}
