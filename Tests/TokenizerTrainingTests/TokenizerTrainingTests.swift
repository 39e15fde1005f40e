import Catalog
import ConfigCoding
import Foundation
import Logging
import Tensor
import Testing
import TestSupport
import TrainingRun
import Tokenizer
import VideoIO
import Yams
@testable import TokenizerTraining

@Suite("Tokenizer training", .serialized)
struct TokenizerTrainingTests {
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    /// A tiny layout (spatial factor 4, τ = 4) so a step takes milliseconds.
    static let layout = TokenizerConfiguration(
        name: "tiny", baseChannels: 8, channelMultipliers: [1, 2, 2], resBlocks: 1,
        temporalDownsamples: [0, 1], latentDim: 8, normGroups: 4, scaleSides: [1, 2, 4, 8])

    /// Moving test patterns and a still, generated with ffmpeg.
    static let corpus: String = {
        let root = try! temporaryFolder("training-data")
        try! FileManager.default.createDirectory(atPath: root + "/videos", withIntermediateDirectories: true)
        try! FileManager.default.createDirectory(atPath: root + "/images", withIntermediateDirectories: true)
        for (name, source) in [
            ("pattern", "testsrc2=size=96x96:rate=10:duration=3"), ("counter", "testsrc=size=96x96:rate=10"),
        ] {
            try! runTool(
                "ffmpeg",
                [
                    "-v", "error", "-y", "-f", "lavfi", "-i", source, "-t", "3", "-c:v", "libx264",
                    "-preset", "ultrafast", "-pix_fmt", "yuv420p", root + "/videos/\(name).mp4",
                ])
        }
        try! runTool(
            "ffmpeg",
            [
                "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=128x96", "-frames:v", "1",
                root + "/images/still.png",
            ])
        return root
    }()

    static func configuration(imageSteps: Int = 40, videoSteps: Int = 6, ganStart: Int = 1000)
        -> TokenizerTrainingConfiguration
    {
        var c = TokenizerTrainingConfiguration()
        c.tokenizer = layout
        c.data = .init(videos: [corpus + "/videos"], images: [corpus + "/images"], cacheSizes: [64])
        c.stages = [
            .init(
                name: "image", kind: .image, steps: imageSteps, batch: 4, sizes: [32], videoFrameFraction: 0.5,
                learningRate: 2e-3, warmupSteps: 2, minLearningRate: 1e-3),
            .init(
                name: "video", kind: .video, steps: videoSteps, batch: 2, frames: 5, fps: [10], sizes: [32],
                learningRate: 1e-3, warmupSteps: 1, minLearningRate: 5e-4),
        ]
        c.losses.ganStart = ganStart
        c.checkpointEvery = 5
        c.previewEvery = 0
        c.threads = 2
        return c
    }

    static func records(_ run: String) throws -> [TokenizerTrainer.StepRecord] { try TrainingReport(run: run).records }

    /// The largest element change from `before` to `after`, over the encoder's tensors and over
    /// the rest; an inflated kernel is compared by its current-frame slice.
    static func largestChanges(from before: [String: Tensor], to after: [String: Tensor]) throws
        -> (encoder: Double, worstEncoderTensor: String, decoder: Double)
    {
        var result = (encoder: 0.0, worstEncoderTensor: "", decoder: 0.0)
        for (name, tensor) in after {
            let fitted = try #require(try Tokenizer.fittedInTime(tensor, to: before[name]!.shape))
            let change = try (fitted - before[name]!).abs().max().item()
            if name.hasPrefix("encoder.") {
                if change >= result.encoder { result = (change, name, result.decoder) }
            } else {
                result.decoder = max(result.decoder, change)
            }
        }
        return result
    }

    @Test("a few dozen steps on generated video lower the loss, then the model is inflated and trained on clips")
    func trainingLowersLoss() throws {
        let run = try temporaryFolder("run")
        let trainer = try TokenizerTrainer(
            configuration: Self.configuration(), runDirectory: run, resume: false, logger: Self.logger)
        let outcome = try trainer.run()
        #expect(outcome == .finished(path: run + "/tokenizer.safetensors"))
        let records = try Self.records(run)
        #expect(records.map(\.step) == Array(1...46))
        let image = records.filter { $0.stage == "image" }
        let first = image.prefix(5).map(\.loss).reduce(0, +) / 5, last = image.suffix(5).map(\.loss).reduce(0, +) / 5
        #expect(last < 0.85 * first, "loss \(first) → \(last)")
        #expect(records.last!.batch == [2, 3, 5, 32, 32])  // video stage: clips of 5 frames
        let trained = try Tokenizer(checkpoint: run + "/tokenizer.safetensors", logger: Self.logger)
        #expect(trained.identity.trained)
        #expect(trained.configuration.temporalKernel == 3)  // inflated
        let curves = run + "/curves.png"
        try TrainingReport(run: run).writePNG(to: curves)
        #expect(try probe(curves).isStillImage)
    }

    @Test("an interrupted run resumes from its checkpoint and continues bit-identically to the uninterrupted one")
    func resumeContinues() throws {
        var configuration = Self.configuration(imageSteps: 8, videoSteps: 4, ganStart: 6)  // GAN on before the pause
        configuration.emaDecay = 0.9  // the weight average is restored too
        let straight = try temporaryFolder("straight")
        _ = try TokenizerTrainer(
            configuration: configuration, runDirectory: straight, resume: false, logger: Self.logger
        ).run()

        let interrupted = try temporaryFolder("interrupted")
        var stops = 0
        let first = try TokenizerTrainer(
            configuration: configuration, runDirectory: interrupted, resume: false, logger: Self.logger)
        // A stop request (what SIGINT sets) after step 9, in the video stage: a checkpoint is
        // written off the 5-step schedule.
        #expect(
            try first.run(shouldStop: {
                stops += 1
                return stops == 9
            }) == .paused(step: 9))
        #expect(RunFolder(interrupted).latestCheckpoint?.hasSuffix("step-0000009") == true)
        #expect(throws: TrainingError.self) {  // a second fresh start does not overwrite the run
            try TokenizerTrainer(
                configuration: configuration, runDirectory: interrupted, resume: false, logger: Self.logger)
        }
        let resumed = try TokenizerTrainer(
            configuration: configuration, runDirectory: interrupted, resume: true, logger: Self.logger)
        #expect(resumed.nextStep == 9)
        _ = try resumed.run()

        let a = try Self.records(straight), b = try Self.records(interrupted)
        #expect(b.map(\.step) == Array(1...12))  // each step logged once
        for (x, y) in zip(a, b) {
            #expect(x.batch == y.batch)
            #expect(x.loss == y.loss, "step \(x.step): \(x.loss) vs \(y.loss)")
        }
        for file in ["tokenizer.safetensors", "tokenizer.last.safetensors"] {  // averaged, and the last step's
            let wa = try SafeTensors.read(straight + "/" + file).tensors
            let wb = try SafeTensors.read(interrupted + "/" + file).tensors
            let worst = try wa.keys.map { try (wa[$0]! - wb[$0]!).abs().max().item() }.max()!
            #expect(worst == 0, "\(file): largest weight difference \(worst)")
        }
    }

    @Test("with ema_decay the finished tokenizer is the weight average; a frozen encoder's average is its weights")
    func weightAverage() throws {
        var configuration = Self.configuration(imageSteps: 6, videoSteps: 4)
        configuration.emaDecay = 0.5
        configuration.stages[1].trainEncoder = false  // as the shipped recipes: clips train the decoder only
        let run = try temporaryFolder("average-run")
        _ = try TokenizerTrainer(configuration: configuration, runDirectory: run, resume: false, logger: Self.logger)
            .run()
        // A checkpoint carries the average as a tokenizer `eval` and `reconstruct` can open.
        let checkpointed = try Tokenizer(
            checkpoint: run + "/checkpoints/step-0000010/tokenizer.ema.safetensors", logger: Self.logger)
        #expect(checkpointed.identity.trained && checkpointed.configuration.temporalKernel == 3)

        let shipped = try SafeTensors.read(run + "/tokenizer.safetensors")
        let last = try SafeTensors.read(run + "/tokenizer.last.safetensors").tensors
        #expect(shipped.metadata["videoar.training.ema_decay"] == "0.5")
        let difference = try Self.largestChanges(from: last, to: shipped.tensors)
        // The average restarted at inflation, so the tokens are those the decoder trained on.
        #expect(difference.encoder == 0, "\(difference.worstEncoderTensor) differs by \(difference.encoder)")
        #expect(difference.decoder > 0)
    }

    @Test("inflating the image model keeps its output on a single frame")
    func inflationKeepsSingleFrame() throws {
        var image = Self.layout
        image.temporalKernel = 1
        image.seed = 7
        let model = try Tokenizer(configuration: image, logger: Self.logger)
        let video = try model.inflated(logger: Self.logger)
        #expect(video.configuration.temporalKernel == 3)
        #expect(video.parameterCount > model.parameterCount)
        let frame = try Tensor.rand([1, 3, 1, 32, 48], generator: Generator(seed: 1)) * 2 - 1
        let (a, b) = try withoutGrad { (try model.trainingPass(frame), try video.trainingPass(frame)) }
        let difference = try (a.reconstruction - b.reconstruction).abs().max().item()
        #expect(difference < 1e-5)
        for (x, y) in zip(a.quantizer.bits, b.quantizer.bits) { #expect(try x.equal(y).to(.float32).min().item() == 1) }
        // On a clip the inflated model is a real 3-D model: a later frame cannot change the first.
        let clip = try Tensor.rand([1, 3, 5, 32, 32], generator: Generator(seed: 2))
        let changed = try Tensor.cat([clip.slice(dim: 2, 0..<1), clip.slice(dim: 2, 1..<5) * 0], dim: 2)
        let (p, q) = try withoutGrad { (try video.trainingPass(clip), try video.trainingPass(changed)) }
        let firstFrame = try (p.reconstruction.slice(dim: 2, 0..<1) - q.reconstruction.slice(dim: 2, 0..<1)).abs().max()
            .item()
        #expect(firstFrame < 1e-5)
    }

    @Test("a wider, deeper decoder warm-started from a trained model keeps the encoder's tokens exactly")
    func warmStartUnderWiderDecoder() throws {
        var image = Self.layout
        image.temporalKernel = 1
        image.seed = 7
        let trained = try Tokenizer(configuration: image, logger: Self.logger).inflated(logger: Self.logger)
        let checkpoint = try temporaryFolder("warm") + "/trained.safetensors"
        try trained.save(to: checkpoint, trained: true)  // a 3-D model, as shipped

        var wide = image  // the image stage of a run with a new decoder
        wide.decoderBaseChannels = 16
        wide.decoderResBlocks = 2
        wide.seed = 99
        let student = try Tokenizer(configuration: wide, logger: Self.logger)
        #expect(student.parameterCount > trained.parameterCount)
        let seeded = try student.warmStart(from: checkpoint)
        #expect(!seeded.isEmpty && seeded.allSatisfy { $0.hasPrefix("decoder.") }, "\(seeded)")
        // The encoder's kernels were cut to their current-frame slice: same tokens on pictures.
        let picture = try (Tensor.rand([1, 8, 16, 3], generator: Generator(seed: 4)) * 255).to(.uint8)
        #expect(try trained.encode(picture).bits.equal(student.encode(picture).bits).to(.float32).min().item() == 1)
        // And into a 3-D model with the old decoder: every tensor fits, none stays seeded.
        var video = wide
        video.temporalKernel = 3
        video.decoderBaseChannels = nil
        video.decoderResBlocks = nil
        let same = try Tokenizer(configuration: video, logger: Self.logger)
        #expect(try same.warmStart(from: checkpoint).isEmpty)
        let clip = try (Tensor.rand([5, 16, 16, 3], generator: Generator(seed: 5)) * 255).to(.uint8)
        #expect(try psnr(trained.reconstruct(clip), same.reconstruct(clip)) == .infinity)
        // A layout with no decoder keys writes none: the identity of existing checkpoints is unchanged.
        let text = String(decoding: try JSONEncoder().encode(Self.layout), as: UTF8.self)
        #expect(!text.contains("decoder_"))
        var odd = Self.layout
        odd.decoderBaseChannels = 6  // 6 channels do not split into 4 groups
        #expect(throws: TokenizerError.self) { try odd.validate() }
    }

    @Test("a run from initial weights with the encoder frozen changes the decoder only: the same tokens")
    func frozenEncoder() throws {
        let start = try temporaryFolder("frozen") + "/start.safetensors"
        var image = Self.layout
        image.temporalKernel = 1
        try Tokenizer(configuration: image, logger: Self.logger).save(to: start, trained: true)
        var configuration = Self.configuration(imageSteps: 6, videoSteps: 4)
        configuration.initialWeights = start
        for i in configuration.stages.indices { configuration.stages[i].trainEncoder = false }
        let run = try temporaryFolder("frozen-run")
        _ = try TokenizerTrainer(configuration: configuration, runDirectory: run, resume: false, logger: Self.logger)
            .run()
        let before = try SafeTensors.read(start).tensors
        let after = try SafeTensors.read(run + "/tokenizer.safetensors").tensors
        let change = try Self.largestChanges(from: before, to: after)
        #expect(change.encoder == 0, "\(change.worstEncoderTensor) moved by \(change.encoder)")
        #expect(change.decoder > 0)
    }

    @Test("a missing initial_weights file is reported before the training data are read, naming the file")
    func missingInitialWeights() throws {
        var configuration = Self.configuration()
        configuration.initialWeights = try temporaryFolder("no-weights") + "/start.safetensors"
        configuration.data.videos = ["/nonexistent-training-videos"]  // would fail only after the weights' check
        let run = try temporaryFolder("no-weights-run"), missing = configuration.initialWeights!
        #expect {
            _ = try TokenizerTrainer(
                configuration: configuration, runDirectory: run, resume: false, logger: Self.logger)
        } throws: { error in
            (error as? TrainingError)?.message.contains("cannot read the initial weights \(missing)") == true
        }
    }

    @Test("with only the l2 weight on, the training loss is the MSE that the logged PSNR measures")
    func mseLoss() throws {
        var configuration = Self.configuration(imageSteps: 4, videoSteps: 2)
        configuration.losses = .init(l1: 0, l2: 1, perceptual: 0, commitment: 0, entropy: 0, gan: 0)
        let run = try temporaryFolder("mse-run")
        _ = try TokenizerTrainer(configuration: configuration, runDirectory: run, resume: false, logger: Self.logger)
            .run()
        for record in try Self.records(run) {
            // PSNR on 8-bit frames: MSE in [−1, 1] units = 4 · 10^(−PSNR/10), up to rounding and clamping.
            let mse = 4 * pow(10, -record.psnr / 10)
            #expect(abs(record.loss / mse - 1) < 0.1, "step \(record.step): loss \(record.loss), MSE \(mse)")
        }
    }

    @Test("PSNR and SSIM are right on known pairs")
    func qualityMeasures() throws {
        let a = try Tensor.full([2, 16, 16, 3], 100, dtype: .uint8)
        let b = try Tensor.full([2, 16, 16, 3], 110, dtype: .uint8)
        #expect(abs(try psnr(a, b) - 10 * log10(255.0 * 255.0 / 100.0)) < 1e-9)  // MSE 100 → 28.13 dB
        #expect(try psnr(a, a) == .infinity)
        #expect(abs(try TokenizerEvaluation.ssim(a, a) - 1) < 1e-12)
        // Constant pictures: SSIM is the luminance term (2·100·110 + C1) / (100² + 110² + C1).
        let c1: Double = (0.01 * 255) * (0.01 * 255)
        #expect(abs(try TokenizerEvaluation.ssim(a, b) - (2 * 100 * 110 + c1) / (100 * 100 + 110 * 110 + c1)) < 1e-9)
        // Noise lowers SSIM well below 1.
        let uniform = try Tensor.rand([2, 16, 16, 3], generator: Generator(seed: 3))
        let noise = try (uniform * 255.0).to(.uint8)
        #expect(try TokenizerEvaluation.ssim(a, noise) < 0.1)
    }

    @Test("eval measures the tokenizer and H.264 on the same clips within the same bit budget")
    func evaluation() throws {
        let tokenizer = try Tokenizer(configuration: Self.layout, logger: Self.logger)
        let clips = ClipConfiguration(
            fps: 10, frames: 5, stride: 5, maxClips: 2,
            buckets: BucketPolicy(sizes: [64], aspectRatios: [AspectRatio(1, 1)], multiple: 4))
        let grid = try temporaryFolder("eval") + "/grid.png"
        let report = try TokenizerEvaluation(configuration: clips, logger: Self.logger)
            .run(tokenizer: tokenizer, paths: [Self.corpus + "/videos/pattern.mp4"], grid: grid)
        #expect(report.clips.count == 2)
        // T′ = 2 latent frames of 16×16; scales 1, 2, 4, 8 and the full grid; d = 8.
        let expectedBits = Double(2 * (1 + 4 + 16 + 64 + 256) * 8) / Double(5 * 64 * 64)
        for clip in report.clips {
            #expect(abs(clip.oursBitsPerPixel - expectedBits) < 1e-12)
            #expect(clip.h264BitsPerPixel <= clip.oursBitsPerPixel || clip.h264CRF == 51)
            #expect(clip.h264PSNR > 10 && clip.h264PSNR < 60)
        }
        // Our PSNR is the plain PSNR of decode(encode(clip)).
        let reader = try ClipReader(
            path: Self.corpus + "/videos/pattern.mp4", configuration: clips, logger: Self.logger)
        let clip = try #require(try reader.next())
        let original = try Tensor(clip.pixels, shape: [5, 64, 64, 3])
        #expect(abs(try psnr(tokenizer.reconstruct(original), original) - report.clips[0].oursPSNR) < 1e-9)
        #expect(report.buckets.count == 1 && report.buckets[0].clips == 2)
        // Where the error comes from: the unit latent's residual before and after each of the 5 scales.
        let norms = try #require(report.buckets[0].residualNorms)
        #expect(norms.count == 6 && abs(norms[0] - 1) < 1e-4 && norms[5] < norms[0], "\(norms)")
        // Key frames (0, 4) and the three between; together they make the clip's PSNR.
        let key = try #require(report.clips[0].keyFramePSNR), between = try #require(report.clips[0].betweenFramePSNR)
        func mse(_ db: Double, _ n: Double) -> Double { n * 255 * 255 / pow(10, db / 10) }
        #expect(abs(10 * log10(5 * 255 * 255 / (mse(key, 2) + mse(between, 3))) - report.clips[0].oursPSNR) < 1e-6)
        #expect(key != between)
        let info = try probe(grid)
        #expect(info.width == 3 * 64 + 4 * 2)  // original | ours | H.264, 2-pixel gaps
    }

    @Test("training data can come from a catalog's ingested sources, videos and stills told apart")
    func catalogSources() throws {
        let folder = try temporaryFolder("catalog")
        let catalog = try Catalog(path: folder + "/catalog.sqlite")
        for (file, done) in [
            (Self.corpus + "/videos/pattern.mp4", true), (Self.corpus + "/images/still.png", true),
            (Self.corpus + "/videos/counter.mp4", false),
        ] {
            guard case .new(let id) = try catalog.register(path: file, size: 1, mtime: 1) else {
                Issue.record("not new")
                return
            }
            #expect(try catalog.claimNext()?.id == id)  // a source is finished by whoever claimed it
            try catalog.finish(id, done ? .done(tokenizer: "test") : .rejected(code: "test", message: "left out"))
        }
        let data = try TrainingFrames(
            .init(catalog: folder + "/catalog.sqlite", cacheSizes: [64]), fps: [10], logger: Self.logger)
        #expect(data.videoCount == 1 && data.stillCount == 1)
        #expect(data.videoFrameCount == 30)  // 3 s at 10 fps
        var rng = SplitMix64(seed: 1)
        let batch = try data.clipBatch(count: 2, frames: 5, fps: 10, width: 32, height: 32, using: &rng)
        #expect(batch.shape == [2, 3, 5, 32, 32])
        #expect(try batch.min().item() >= -1 && batch.max().item() <= 1)
    }

    @Test("colour augmentation turns a muted colour into a saturated one of another hue and leaves grey alone")
    func colourRemix() {
        var pixels: ArraySlice<UInt8> = [150, 100, 50, 128, 128, 128]  // a muted orange, a grey
        TrainingFrames.remix(&pixels, order: [2, 1, 0], saturation: 2)  // B, G, R at twice the saturation
        #expect(Array(pixels) == [0, 100, 200, 128, 128, 128])
        var clipped: ArraySlice<UInt8> = [250, 10, 10]
        TrainingFrames.remix(&clipped, order: [0, 1, 2], saturation: 2)
        #expect(Array(clipped) == [255, 0, 0])  // clamped, not wrapped
    }

    @Test("a damaged or mislabelled file in a training folder is skipped with its reason; the rest is used")
    func badFilesSkipped() throws {
        let folder = try temporaryFolder("bad-training")
        try FileManager.default.copyItem(atPath: Self.corpus + "/videos/pattern.mp4", toPath: folder + "/good.mp4")
        try "not a video".write(toFile: folder + "/broken.mp4", atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: Self.corpus + "/images/still.png", toPath: folder + "/still.png")
        let data = try TrainingFrames(.init(videos: [folder], cacheSizes: [64]), fps: [10], logger: Self.logger)
        #expect(data.videoCount == 1)
        let reasons = Dictionary(
            uniqueKeysWithValues: data.skipped.map { (($0.path as NSString).lastPathComponent, $0.reason) })
        #expect(reasons.count == 2)
        #expect(reasons["still.png"] == "a still image in a video folder")
        #expect(reasons["broken.mp4"]?.isEmpty == false)
        #expect(throws: TrainingError.self) {  // a missing folder is an error, not an empty corpus
            try TrainingFrames(.init(videos: [folder + "/missing"], cacheSizes: [64]), fps: [10], logger: Self.logger)
        }
    }

    @Test(
        "each shipped tokenizer is trained, has its layout file's layout, and its training configuration is valid",
        arguments: ["cpu-f8", "cpu-small"])
    func shippedTokenizer(name: String) throws {
        let root =
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path + "/Configs/tokenizer/"
        let training = try YAMLDecoder().decode(
            TokenizerTrainingConfiguration.self,
            from: String(contentsOfFile: root + "train-\(name).yaml", encoding: .utf8))
        try training.validate()
        let layout = try YAMLDecoder().decode(
            TokenizerConfiguration.self,
            from: String(contentsOfFile: root + "\(name).yaml", encoding: .utf8))
        if name == "cpu-small" { #expect(layout == TokenizerConfiguration()) }  // it states the built-in defaults
        var trainedLayout = training.tokenizer
        trainedLayout.temporalKernel = 3
        #expect(trainedLayout == layout)
        let shipped = try Tokenizer(checkpoint: root + "\(name).safetensors", logger: Self.logger)
        #expect(shipped.identity.trained)
        #expect(shipped.configuration == layout)
        let size = try FileManager.default.attributesOfItem(atPath: root + "\(name).safetensors")[.size] as! Int
        #expect(size <= 25 << 20)
        #expect(TokenizerLocator.shippedCheckpoint == "Configs/tokenizer/cpu-f8.safetensors")
    }

    @Test("training configurations reject unknown keys and impossible stage orders, naming the key")
    func configurationErrors() throws {
        #expect {
            try YAMLDecoder().decode(
                TokenizerTrainingConfiguration.self, from: "stages:\n  - kind: image\n    stepz: 3\n")
        } throws: { error in
            guard case .dataCorrupted(let context) = error as? DecodingError else { return false }
            return keyPath(context.codingPath) == "stages[0].stepz"
                && context.debugDescription.contains("unknown key 'stepz'")
        }
        var c = Self.configuration()
        c.stages.reverse()
        #expect {
            try c.validate()
        } throws: { ($0 as? TrainingError)?.message.contains("cannot follow a video stage") == true }
        c = Self.configuration()
        c.stages[1].frames = 6
        #expect {
            try c.validate()
        } throws: { ($0 as? TrainingError)?.message.contains("stages[1] (video).frames") == true }
        c = Self.configuration()
        c.emaDecay = 1
        #expect {
            try c.validate()
        } throws: { ($0 as? TrainingError)?.message.contains("ema_decay must be in") == true }
        let parsed = try YAMLDecoder().decode(TokenizerTrainingConfiguration.self, from: "losses: {gan: 0.1}\n")
        #expect(parsed.losses.gan == 0.1 && parsed.losses.l1 == 1.0 && parsed.losses.l2 == 0)
        let mse = try YAMLDecoder().decode(TokenizerTrainingConfiguration.self, from: "losses: {l1: 0, l2: 6}\n")
        #expect(mse.losses.l1 == 0 && mse.losses.l2 == 6)
        c = Self.configuration()
        c.losses.l2 = -1
        #expect {
            try c.validate()
        } throws: { ($0 as? TrainingError)?.message.contains("losses.l2 must be ≥ 0") == true }
        // Partial sections keep the defaults of their parent; a stage's defaults follow its kind.
        let partial = try YAMLDecoder().decode(
            TokenizerTrainingConfiguration.self,
            from: """
                tokenizer: {latent_dim: 16}
                stages: [{kind: image, steps: 5}, {kind: video, frames: 9}]
                data: {videos: [v]}
                """)
        #expect(partial.tokenizer == TokenizerConfiguration(latentDim: 16))
        #expect(partial.stages[0] == TokenizerTrainingConfiguration.Stage(name: "image", kind: .image, steps: 5))
        #expect(partial.stages[1] == TokenizerTrainingConfiguration.Stage(name: "video", kind: .video, frames: 9))
        #expect(partial.data == TokenizerTrainingConfiguration.DataConfiguration(videos: ["v"]))
        #expect(partial.optimizer == TokenizerTrainingConfiguration.OptimizerConfiguration())
        #expect {
            try YAMLDecoder().decode(TokenizerTrainingConfiguration.self, from: "stages: [{steps: 5}]\n")
        } throws: { error in
            guard case .keyNotFound(let key, _) = error as? DecodingError else { return false }
            return key.stringValue == "kind"
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
