import ArgumentParser
import AtomicFiles
import Dispatch
import Foundation
import Logging
import Tensor
import Tokenizer
import TokenizerTraining
import VideoIO

/// `videoar tokenizer …`: train, report on and evaluate tokenizers.
struct TokenizerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract: "Train a tokenizer, plot a run's curves, evaluate a checkpoint against H.264, and export it.",
        subcommands: [
            TrainTokenizerCommand.self, ReportTokenizerCommand.self, EvalTokenizerCommand.self,
            ExportTokenizerCommand.self,
        ]
    )
}

struct TrainTokenizerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a tokenizer through the configured stages (image model → inflated video model).",
        discussion: """
            The run folder holds everything: log.jsonl (one JSON record per step), previews/ (original over \
            reconstruction, PNG), checkpoints/ and, when every stage is done, tokenizer.safetensors. \
            SIGINT (Ctrl-C) finishes the current step, writes a checkpoint and exits; --resume continues from it \
            with the same batches and optimiser state.
            """
    )

    @Option(
        help: "The training configuration (YAML, e.g. Configs/tokenizer/train-cpu-f8.yaml).",
        completion: .file(extensions: ["yaml", "yml"]))
    var config: String

    @Option(
        name: .customLong("run"), help: "The run folder (default: runs/<config file name>).", completion: .directory)
    var runFolder: String?

    @Flag(help: "Continue the run in --run from its latest checkpoint.")
    var resume = false

    @Option(help: "Stop (with a checkpoint) once this many steps in total are done; resume later.")
    var until: Int?

    @Option(help: "Print a progress line every this many steps.")
    var printEvery: Int = 10

    @OptionGroup var global: GlobalOptions

    func run() throws {
        var logger = global.makeLogger("videoar.tokenizer.train")
        logger.logLevel = global.verbose ? .debug : .info
        let configuration = try loadConfiguration(TokenizerTrainingConfiguration.self, from: config)
        useTorchThreads(configuration.threads)
        let folder = runFolder ?? "runs/" + URL(fileURLWithPath: config).deletingPathExtension().lastPathComponent
        let stop = StopRequest()
        stop.install()
        let trainer = try exiting(on: TrainingError.self) {
            try TokenizerTrainer(configuration: configuration, runDirectory: folder, resume: resume, logger: logger)
        }
        printNow(
            "training \(trainer.tokenizerParameters) tokenizer parameters in \(folder), from step \(trainer.nextStep) "
                + "of \(configuration.totalSteps) on \(Torch.threads) threads")
        switch try trainer.run(until: until, printEvery: printEvery, progress: printNow, shouldStop: { stop.requested })
        {
        case .finished(let path):
            print("done: \(path)  (evaluate with: videoar tokenizer eval --checkpoint \(path) DIR)")
        case .paused(let step):
            print(
                "paused at step \(step); continue with: videoar tokenizer train --config \(config) --run \(folder) --resume"
            )
        }
    }
}

/// SIGINT/SIGTERM as a flag the training loop polls between steps, so a stop always
/// lands on a step boundary with a checkpoint. A second signal exits at once.
final class StopRequest: @unchecked Sendable {
    private let flag = StopFlag()
    private var sources: [DispatchSourceSignal] = []  // written once, by install(), before any signal

    var requested: Bool { flag.isSet }

    func install() {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [self] in
                if flag.set() { exit(130) }
                printError("stopping after this step (a checkpoint will be written); signal again to quit at once")
            }
            source.resume()
            sources.append(source)
        }
    }
}

struct ExportTokenizerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a trained tokenizer for sharing: renamed, with its recipe, the decoder in float16.",
        discussion: """
            The encoder stays float32, so the exported file makes exactly the tokens the checkpoint makes; \
            the decoder in float16 takes half the bytes and reconstructs within a fraction of a grey level. \
            This is how Configs/tokenizer/cpu-f8.safetensors is made from a finished run.
            """
    )

    @Argument(
        help: "The trained tokenizer (a run's tokenizer.safetensors or a checkpoint's).",
        completion: .file(extensions: ["safetensors"]))
    var checkpoint: String

    @Argument(help: "Where to write the exported tokenizer.", completion: .file(extensions: ["safetensors"]))
    var out: String

    @Option(help: "The name it goes by in the catalog and in logs (default: the checkpoint's).")
    var name: String?

    @Option(help: "How it was made, stored in its metadata (e.g. the training configurations and steps).")
    var recipe: String?

    @Flag(help: "Keep the decoder in float32 too.")
    var float32 = false

    @OptionGroup var global: GlobalOptions

    func run() throws {
        let logger = global.makeLogger("videoar.tokenizer.export")
        let tokenizer = try Tokenizer(checkpoint: checkpoint, logger: logger)
        if !tokenizer.identity.trained {
            printError("warning: \(checkpoint) is not marked trained; exporting it anyway")
        }
        try tokenizer.export(to: out, name: name, recipe: recipe, decoderInFloat16: !float32)
        let exported = try Tokenizer(checkpoint: out, logger: logger)
        let bytes = (try? FileManager.default.attributesOfItem(atPath: out)[.size] as? Int) ?? 0
        print(
            "wrote \(out): \(exported.identity) (\(String(format: "%.1f", Double(bytes) / 1e6)) MB, decoder in "
                + (float32 ? "float32" : "float16") + ")")
    }
}

struct ReportTokenizerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Draw a training run's loss, PSNR and bit-usage curves to a PNG and summarise each stage."
    )

    @Argument(help: "The run folder (holds log.jsonl).", completion: .directory)
    var runFolder: String

    @Option(help: "Where to write the chart (default: RUN/curves.png).")
    var out: String?

    func run() throws {
        let report = try exiting(on: TrainingError.self) { try TrainingReport(run: runFolder) }
        let path = out ?? runFolder + "/curves.png"
        try report.writePNG(to: path)
        print("\(report.records.count) steps; curves: \(path)")
        print("| stage | steps | loss | PSNR (dB) | SSIM | per-bit mean min–max |")
        print("|---|---|---|---|---|---|")
        for s in report.stageSummary() {
            print(
                String(
                    format: "| %@ | %d–%d | %.4f | %.2f | %.3f | %.2f–%.2f |", s.stage, s.steps.lowerBound,
                    s.steps.upperBound,
                    s.loss, s.psnr, s.ssim, s.bitMin, s.bitMax))
        }
        print("(means over each stage's last 100 steps, on training batches)")
    }
}

struct EvalTokenizerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract:
            "PSNR, SSIM and bits per pixel of a tokenizer on held-out clips, next to H.264 at the same bits per pixel.",
        discussion: """
            Every clip is encoded to tokens and decoded; libx264 (ffmpeg CLI) then encodes the same frames with its \
            quality searched so its stream is no larger than the tokens. Prints one table per bucket and writes a \
            PNG grid (original | ours | H.264, first and last frame of each source's first clip).
            """
    )

    @Option(
        help: "Tokenizer weights (default: the shipped \(TokenizerLocator.shippedCheckpoint)).",
        completion: .file(extensions: ["safetensors"]))
    var checkpoint: String?

    @Argument(
        help: "Held-out videos: files or folders (default: data/tokenizer/holdout from Scripts/fetch-training-data).",
        completion: .directory)
    var paths: [String] = []

    @Option(help: "Bucket sizes √(H·W), comma-separated.")
    var sizes: String = "128"

    @Option(help: "Aspect ratios, comma-separated (1:1 gives 128×128 at size 128).")
    var aspectRatios: String = "1:1"

    @Option(help: "Frames per clip: 1 + 4k.")
    var frames: Int = 17

    @Option(help: "Frame rate clips are resampled to.")
    var fps: Double = 8

    @Option(help: "Sampled frames between clip starts (overlapping clips when below --frames).")
    var stride: Int = 4

    @Option(help: "Where to write the PNG grid (default: next to the checkpoint, <name>.eval.png).")
    var grid: String?

    @Option(help: "Also write the full report as JSON here.")
    var json: String?

    @Option(help: "LibTorch intra-op threads (default: all cores).")
    var threads: Int?

    @OptionGroup var global: GlobalOptions

    func run() throws {
        let logger = global.makeLogger("videoar.tokenizer.eval")
        useTorchThreads(threads)
        guard let path = checkpoint ?? TokenizerLocator.shippedCheckpointPath() else {
            printError(
                "error: no --checkpoint given and no shipped default found (\(TokenizerLocator.shippedCheckpoint))")
            throw ExitCode(2)
        }
        let tokenizer = try Tokenizer(checkpoint: path, logger: logger)
        let sizes = sizes.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let aspects = aspectRatios.split(separator: ",").compactMap {
            AspectRatio(String($0).trimmingCharacters(in: .whitespaces))
        }
        let clips = ClipConfiguration(
            fps: fps, frames: frames, stride: stride,
            buckets: BucketPolicy(sizes: sizes, aspectRatios: aspects, multiple: tokenizer.configuration.spatialFactor))
        try clips.validate()
        let gridPath = grid ?? URL(fileURLWithPath: path).deletingPathExtension().path + ".eval.png"
        let patternPath = URL(fileURLWithPath: gridPath).deletingPathExtension().path + "-patterns.png"
        print("tokenizer \(tokenizer.identity) (\(path))")
        let evaluation = TokenizerEvaluation(configuration: clips, logger: logger)
        let report = try evaluation.run(
            tokenizer: tokenizer, paths: paths.isEmpty ? ["data/tokenizer/holdout"] : paths,
            grid: gridPath, patternGrid: patternPath, progress: { print("  " + $0) })
        func rgb(_ e: [Double]) -> String { String(format: "%+.1f/%+.1f/%+.1f", e[0], e[1], e[2]) }
        print("")
        print(
            "| bucket | clips | ours bpp | ours PSNR | ours SSIM | colour error R/G/B | H.264 bpp | H.264 PSNR | H.264 SSIM | PSNR gap |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|")
        for r in report.buckets {
            print(
                String(
                    format: "| %@ | %d | %.4f | %.2f dB | %.3f | %@ | %.4f | %.2f dB | %.3f | %+.2f dB |", r.bucket,
                    r.clips, r.oursBitsPerPixel, r.oursPSNR, r.oursSSIM, rgb(r.oursMeanError), r.h264BitsPerPixel,
                    r.h264PSNR, r.h264SSIM, r.oursPSNR - r.h264PSNR))
        }
        for r in report.buckets {
            guard let key = r.keyFramePSNR, let between = r.betweenFramePSNR, let norms = r.residualNorms else {
                continue
            }
            print(
                String(
                    format: "%@: key frames (0, %d, %d, …) %.2f dB, frames between %.2f dB; ‖residual‖ by scale %@",
                    r.bucket, tokenizer.configuration.temporalFactor, 2 * tokenizer.configuration.temporalFactor, key,
                    between, norms.map { String(format: "%.2f", $0) }.joined(separator: " → ")))
        }
        print("")
        print("| pattern | PSNR | SSIM | original mean R/G/B | ours mean R/G/B | error R/G/B |")
        print("|---|---|---|---|---|---|")
        for p in report.patterns {
            print(
                String(
                    format: "| %@ | %.2f dB | %.3f | %.0f/%.0f/%.0f | %.0f/%.0f/%.0f | %@ |", p.name, p.psnr, p.ssim,
                    p.originalMean[0], p.originalMean[1], p.originalMean[2], p.reconstructedMean[0],
                    p.reconstructedMean[1], p.reconstructedMean[2], rgb(p.meanError)))
        }
        let flat = report.patterns.filter { $0.name.hasPrefix("flat") }
        print(
            String(
                format: "patterns: mean PSNR %.2f dB (flat colours %.2f dB); colour error = ours − original, 0–255",
                report.patterns.map(\.psnr).reduce(0, +) / Double(max(report.patterns.count, 1)),
                flat.map(\.psnr).reduce(0, +) / Double(max(flat.count, 1))))
        let lo = report.bitMeans.min() ?? 0, hi = report.bitMeans.max() ?? 0
        print(
            String(
                format: "bits used: %d of %d with mean in [0.1, 0.9] (per-bit means %.2f–%.2f); %d frames at %.0f fps",
                report.bitsUsed, report.bitMeans.count, lo, hi, report.frames, report.fps))
        print("grid (original | ours | H.264): \(gridPath); patterns (original | ours): \(patternPath)")
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(report).write(to: URL(fileURLWithPath: json))
        }
    }
}

/// Writes a line to stdout at once (progress must reach a log file as it happens).
func printNow(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}
