import ArgumentParser
import Catalog
import Foundation
import Generation
import Logging
import Model
import ModelTraining
import Tensor
import Tokenizer
import TrainingRun
import VideoIO

/// `videoar bench ablate`: the stability techniques switched on one at a time (baseline →
/// + Multi-scale Temporal RoPE → + time-ramped error correction → + inheritance → + Random
/// Frame Mask), each trained on the same data for the same steps from the same seed, then
/// scored by held-out bitwise NLL and by rollout drift.
struct AblationBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ablate",
        abstract:
            "Ablate the method's stability techniques: held-out NLL and rollout drift (PSNR per frame) per variant.",
        discussion: """
            Each variant trains in RUNS/<variant> (resumable: run the command again to continue; finished variants \
            are only scored). Rollout drift: held-out clips long enough for --frames are continued (video-to-video) \
            from their first --context frames by frame re-encoding, and every frame is compared with the true frame; \
            the tokenizer's own reconstruction of the truth and the last context frame held still frame the numbers. \
            Writes RUNS/ablation-CONTINUATION.json and .md, RUNS/drift-CONTINUATION.png, and one rollout per \
            variant beside its truth (RUNS/VARIANT/rollout-CONTINUATION.mp4 and .png).
            """
    )

    @Option(
        help: "The base training configuration (YAML); the variants edit it.", completion: .file(extensions: ["yaml"]))
    var config: String = "Configs/model/ablation.yaml"

    @Option(help: "Folder for the variants' runs and the results.", completion: .directory)
    var runs: String = "runs/ablate"

    @Option(help: "Override the data folder.", completion: .directory)
    var data: String?

    @Option(help: "Train and score only these variants (comma-separated names; default: all).")
    var variants: String?

    @Option(help: "Frames of each rollout: 1 + 4k (65 = 4 × the 17-frame trained length, with 5-frame re-encoding).")
    var frames: Int = 65

    @Option(help: "True frames given as context: 1 + 4k.")
    var context: Int = 5

    @Option(help: "Frames of each window the model makes at once (its trained length).")
    var window: Int = 17

    @Option(help: "Frames re-encoded as the next window's context.")
    var reencode: Int = 5

    @Option(
        help:
            "Past --window frames: reencode (decode, re-encode the last --reencode frames, continue) or slide (a sliding window over latent frames)."
    )
    var continuation: String = "reencode"

    @Option(help: "Rollout clips at most (from held-out sources long enough; up to 2 per source).")
    var clips: Int = 8

    @Option(help: "Sampling seeds per rollout clip.")
    var seeds: Int = 2

    @Option(
        help:
            "Override the configuration's seed (initialisation, data order, corruption draws) to measure run-to-run spread; use another --runs."
    )
    var seed: UInt64?

    @Option(help: "Tokenizer weights; default: the shipped one (the tokens were made with it).")
    var checkpoint: String?

    @Option(help: "LibTorch intra-op threads (default: all cores).")
    var threads: Int?

    @Flag(help: "Only redraw RUNS/ablation-CONTINUATION.md and the drift chart from the saved results.")
    var reportOnly = false

    @OptionGroup var global: GlobalOptions

    struct Row: Codable {
        var variant: String
        var adds: String
        var steps: Int
        var heldOutNLL: Double
        var heldOutAccuracy: Double
        var heldOutClips: Int
        /// Mean PSNR per frame over rollouts (seeds × clips), against the truth and against the
        /// decoded truth (the tokenizer's error taken out).
        var drift: [Double]
        var driftVsDecoded: [Double]
    }

    struct Results: Codable {
        var configuration: String
        var seed: UInt64
        var rolloutClips: [String]
        var frames: Int
        var context: Int
        var continuation: String
        var reconstruction: [Double]
        var holdLastFrame: [Double]
        var holdLastFrameVsDecoded: [Double]
        var rows: [Row]
    }

    func run() throws {
        let logger = global.makeLogger("videoar.ablate")
        var base = try loadConfiguration(ModelTrainingConfiguration.self, from: config)
        if let data { base.dataFolder = data }
        if let seed {
            base.seed = seed
            base.model.seed = seed
        }
        useTorchThreads(threads ?? (base.threads > 0 ? base.threads : nil))
        base = try pinnedToTokenizer(base, logger: logger)
        let continuation = try VideoGenerator.Continuation(option: continuation)
        if reportOnly {
            let path = runs + "/ablation-\(continuation.rawValue).json"
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ValidationError("no results at \(path): run the ablation first")
            }
            try write(try JSONDecoder().decode(Results.self, from: data), suffix: continuation.rawValue)
            return
        }
        let chosen = try chosenVariants()
        let tokenizer = try loadTokenizer(checkpoint: checkpoint, layout: nil, logger: logger)
        let rolloutSet = try rolloutClips(base, tokenizer: tokenizer, logger: logger)
        print(
            "ablation: \(chosen.count) variant(s) of \(config) (\(base.totalSteps) steps each) in \(runs); rollouts: "
                + "\(rolloutSet.count) held-out clip(s) × \(seeds) seed(s), \(frames) frames from \(context) true ones")
        for clip in rolloutSet { print("  rollout clip: \(clip.name)") }
        let stop = StopRequest()
        stop.install()
        var rows: [Row] = []
        for index in chosen {
            let variant = Ablation.variants[index]
            let configuration = Ablation.configuration(base, variant: index)
            let folder = runs + "/" + variant.name
            let resume = FileManager.default.fileExists(atPath: folder + "/latest")
            let trainer = try exiting(on: TrainerError.self) {
                try ModelTrainer(configuration: configuration, runDirectory: folder, resume: resume, logger: logger)
            }
            printNow(
                "[\(variant.name)] \(variant.adds): training from step \(trainer.nextStep) of \(configuration.totalSteps)"
            )
            let outcome = try exiting(on: TrainerError.self) {
                try trainer.run(printEvery: 50, progress: { printNow("  " + $0) }, shouldStop: { stop.requested })
            }
            guard case .finished(let path) = outcome else {
                print("paused; run the same command again to continue")
                return
            }
            guard let evaluation = try trainer.evaluate(stage: configuration.stages.count - 1) else {
                throw ValidationError("no held-out clips to score: raise held_out.fraction in \(config)")
            }
            let model = try exiting(on: ModelError.self) { try VideoARTransformer(checkpoint: path) }
            let drift = RolloutDrift(
                generator: VideoGenerator(sampler: Sampler(model: model), tokenizer: tokenizer, samplingThreads: 1),
                window: window, continuation: continuation, reencode: reencode)
            var rollouts: [RolloutDrift.Curves] = []
            for clip in rolloutSet {
                for seed in 0..<seeds {
                    let (curves, video) = try drift.measure(
                        clip.truth, caption: clip.caption,
                        options: .init(guidance: .constant(1), temperature: 1, topP: 0.97, seed: UInt64(seed)))
                    if rollouts.isEmpty {  // one rollout to look at, beside the truth
                        let side = try Tensor.cat([clip.truth.pixels, video], dim: 2).contiguous()
                        try writeClip(
                            try side.scalars(), count: frames, width: side.shape[2], height: side.shape[1], fps: 8,
                            to: folder + "/rollout-\(continuation.rawValue)")
                    }
                    rollouts.append(curves)
                }
            }
            let row = Row(
                variant: variant.name, adds: variant.adds, steps: configuration.totalSteps,
                heldOutNLL: evaluation.nll, heldOutAccuracy: evaluation.accuracy, heldOutClips: evaluation.clips,
                drift: Self.mean(rollouts.map(\.vsTruth)), driftVsDecoded: Self.mean(rollouts.map(\.vsDecoded)))
            rows.append(row)
            printNow(
                String(
                    format:
                        "[%@] held-out nll %.4f nats/bit (acc %.1f%%, %d clips); PSNR vs truth %@; vs decoded truth %@",
                    variant.name, row.heldOutNLL, row.heldOutAccuracy * 100, row.heldOutClips, checkpoints(row.drift),
                    checkpoints(row.driftVsDecoded)))
        }
        let truths = rolloutSet.map(\.truth)
        let results = Results(
            configuration: config, seed: base.seed, rolloutClips: rolloutSet.map(\.name), frames: frames,
            context: context,
            continuation: continuation.rawValue, reconstruction: Self.mean(truths.map(\.reconstruction)),
            holdLastFrame: Self.mean(truths.map(\.holdLastFrame.vsTruth)),
            holdLastFrameVsDecoded: Self.mean(truths.map(\.holdLastFrame.vsDecoded)), rows: rows)
        try write(results, suffix: continuation.rawValue)
    }

    // MARK: - Rollout clips

    struct RolloutClip {
        var name: String
        var caption: String?
        var truth: RolloutDrift.Truth
    }

    /// Held-out sources (the configuration's split, so no variant trained on them) with at least
    /// `frames` frames at the clips' frame rate, decoded in the 128 bucket nearest their aspect.
    func rolloutClips(_ base: ModelTrainingConfiguration, tokenizer: Tokenizer, logger: Logger) throws -> [RolloutClip]
    {
        let catalog = try Catalog(path: base.dataFolder + "/catalog.sqlite")
        let fps = 8.0
        let needed = Double(frames - 1) / fps
        let sources = try catalog.sources(in: .done)
            .filter { s in
                guard let hash = s.contentHash, let duration = s.duration else { return false }
                return base.heldOut.isHeldOut(hash) && duration >= needed
            }
            .sorted { $0.path < $1.path }
        var chosen: [RolloutClip] = []
        for source in sources where chosen.count < clips {
            let reader = try ClipReader(
                path: source.path,
                configuration: ClipConfiguration(
                    fps: fps, frames: frames, maxClips: 2,
                    buckets: BucketPolicy(sizes: [128], multiple: 16, maxUpscale: 8)),
                logger: logger)
            let caption = try source.id.flatMap { try catalog.captions(source: $0).first }
            for (i, clip) in try reader.readAll().enumerated() where chosen.count < clips {
                chosen.append(
                    RolloutClip(
                        name:
                            "\(URL(fileURLWithPath: source.path).lastPathComponent)#\(i) \(clip.width)×\(clip.height)",
                        caption: caption,
                        truth: try RolloutDrift.Truth(pixels: videoTensor(clip), context: context, tokenizer: tokenizer)
                    ))
            }
        }
        guard !chosen.isEmpty else {
            throw ValidationError(
                "no held-out source lasts \(String(format: "%.1f", needed)) s (\(frames) frames at \(fps) fps): lower --frames or ingest longer videos"
            )
        }
        return chosen
    }

    /// The frame-by-frame mean of equally long curves.
    static func mean(_ curves: [[Double]]) -> [Double] {
        guard let first = curves.first else { return [] }
        return first.indices.map { f in curves.map { $0[f] }.reduce(0, +) / Double(curves.count) }
    }

    func chosenVariants() throws -> [Int] {
        guard let variants else { return Array(Ablation.variants.indices) }
        return try variants.split(separator: ",").map { name in
            guard let index = Ablation.variants.firstIndex(where: { $0.name == name }) else {
                throw ValidationError(
                    "unknown variant '\(name)'; the variants are \(Ablation.variants.map(\.name).joined(separator: ", "))"
                )
            }
            return index
        }
    }

    /// PSNR at the ends of the first to fourth trained lengths (frames 17, 33, 49, 65).
    func checkpoints(_ curve: [Double]) -> String {
        stride(from: window - 1, to: curve.count, by: window - 1).map { String(format: "f%d %.2f", $0 + 1, curve[$0]) }
            .joined(separator: ", ")
    }

    // MARK: - Output

    func write(_ results: Results, suffix: String) throws {
        try FileManager.default.createDirectory(atPath: runs, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(results).write(to: URL(fileURLWithPath: runs + "/ablation-\(suffix).json"))
        let generatedFrames = results.context..<results.frames
        func mean(_ curve: [Double]) -> Double {
            generatedFrames.map { curve[$0] }.reduce(0, +) / Double(generatedFrames.count)
        }
        let ends = Array(stride(from: window - 1, to: results.frames, by: window - 1))
        let header =
            ends.map { "f\($0 + 1)" }.joined(separator: " | ") + " | mean f\(results.context + 1)–\(results.frames)"
        var table =
            "| variant | held-out NLL (nats/bit) | bit acc. | PSNR vs truth: " + header
            + " | PSNR vs decoded truth: " + header + " |\n"
        table += "|---|---|---|" + String(repeating: "---|", count: 2 * (ends.count + 1)) + "\n"
        func cells(_ curve: [Double]) -> String {
            guard !curve.isEmpty else { return String(repeating: " – |", count: ends.count + 1) }
            return ends.map { String(format: " %.2f |", curve[$0]) }.joined() + String(format: " %.2f |", mean(curve))
        }
        for row in results.rows {
            table +=
                "| \(row.adds) | " + String(format: "%.4f | %.1f%% |", row.heldOutNLL, row.heldOutAccuracy * 100)
                + cells(row.drift) + cells(row.driftVsDecoded) + "\n"
        }
        table += "| tokenizer reconstruction (the ceiling) | – | – |" + cells(results.reconstruction) + cells([]) + "\n"
        table +=
            "| last context frame held still | – | – |" + cells(results.holdLastFrame)
            + cells(results.holdLastFrameVsDecoded) + "\n"
        try table.write(toFile: runs + "/ablation-\(suffix).md", atomically: true, encoding: .utf8)
        let palette: [(UInt8, UInt8, UInt8)] = [
            (150, 150, 150), (70, 130, 220), (240, 150, 40), (60, 170, 90), (210, 60, 60),
        ]
        func points(_ curve: [Double]) -> [(x: Double, y: Double)] {
            curve.enumerated().map { (Double($0.offset + 1), $0.element) }.filter { $0.1 < RolloutDrift.identical }
        }
        func panel(_ drift: (Row) -> [Double], _ references: [(String, [Double], (UInt8, UInt8, UInt8))])
            -> [CurveChart.Curve]
        {
            results.rows.enumerated().map { i, row in
                CurveChart.Curve(row.variant, points(drift(row)), palette[i % palette.count], smoothed: false)
            } + references.filter { !$0.1.isEmpty }.map { CurveChart.Curve($0.0, points($0.1), $0.2, smoothed: false) }
        }
        try CurveChart(
            panels: [
                (
                    "PSNR VS TRUTH",
                    panel(
                        \.drift,
                        [
                            ("recon", results.reconstruction, (0, 0, 0)),
                            ("hold", results.holdLastFrame, (190, 120, 200)),
                        ])
                ),
                (
                    "VS DECODED TRUTH",
                    panel(\.driftVsDecoded, [("hold", results.holdLastFrameVsDecoded, (190, 120, 200))])
                ),
            ],
            markers: ends.map { (Double($0 + 1), "\($0 / (window - 1))x") }, xUnit: "frames"
        ).writePNG(to: runs + "/drift-\(suffix).png", panelHeight: 300)
        print("")
        print(table)
        print(
            "written: \(runs)/ablation-\(suffix).json, .md, \(runs)/drift-\(suffix).png; one rollout per variant beside its truth: \(runs)/VARIANT/rollout-\(suffix).png"
        )
    }
}
