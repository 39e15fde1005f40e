import Logging
import Model
import Tensor
import Testing
import TokenFormat
import Tokenizer
@testable import Generation

@Suite("Long videos: frame re-encoding, sliding window, rollout drift")
struct VideoGeneratorTests {
    /// An untrained tokenizer (8 bits per token, 16× spatial) and a model for its tokens.
    static func tinyPair() throws -> (Tokenizer, VideoARTransformer) {
        let tokenizer = try Tokenizer(
            configuration: TokenizerConfiguration(
                name: "tiny", baseChannels: 8, channelMultipliers: [1, 2, 2, 2, 2], latentDim: 8, normGroups: 4),
            logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        let model = try VideoARTransformer(
            ModelConfiguration(name: "test", width: 32, depth: 1, heads: 2, bitsPerToken: 8, maxScales: 8))
        return (tokenizer, model)
    }

    @Test("past the window, each window adds window − context frames; the first window is the plain sample")
    func longVideo() throws {
        let (tokenizer, model) = try Self.tinyPair()
        let schedule = ScaleSchedule(height: 2, width: 2, sides: tokenizer.configuration.scaleSides)  // 32×32 pixels
        let long = VideoGenerator(sampler: Sampler(model: model), tokenizer: tokenizer)
        var windows: Set<Int> = []
        let videos = try long.generate(
            captions: ["a", nil], frames: 25, window: 9, context: 5, schedule: schedule, options: .init(seed: 7)
        ) { w, total, _, _ in
            windows.insert(w)
            #expect(total == 5)  // 9, then 4 new frames per window: 9, 13, 17, 21, 25
        }
        #expect(windows == [0, 1, 2, 3, 4])
        #expect(videos.count == 2 && videos[0].shape == [25, 32, 32, 3] && videos[0].dtype == .uint8)
        let single = try long.generate(
            captions: ["a", nil], frames: 9, window: 9, context: 5, schedule: schedule, options: .init(seed: 7))
        #expect(try single[0].equal(videos[0].slice(dim: 0, 0..<9)).logicalNot().to(.int64).sum().item() == 0)
        // Sliding window: one pass, nothing re-encoded; until the window is full it is the plain sample
        // (the causal decoder gives the first frames from the first latent frames alone).
        let slid = try long.generate(
            captions: ["a", nil], frames: 25, window: 9, context: 5, continuation: .slidingWindow, schedule: schedule,
            options: .init(seed: 7))
        #expect(slid.count == 2 && slid[0].shape == [25, 32, 32, 3])
        #expect(try psnr(slid[0].slice(dim: 0, 0..<9), single[0]) > 40)
        #expect(throws: ModelError.self) {
            try long.generate(captions: ["a"], frames: 20, window: 9, context: 5, schedule: schedule, options: .init())
        }
        #expect(throws: ModelError.self) {
            try long.generate(captions: ["a"], frames: 25, window: 9, context: 9, schedule: schedule, options: .init())
        }
    }

    @Test(
        "rollout drift: the kept context decodes as the truth's own reconstruction, and every curve covers every frame"
    )
    func rolloutDrift() throws {
        let (tokenizer, model) = try Self.tinyPair()
        // A bright square sliding right over a dark background, 17 frames of 32×32.
        var pixels = [UInt8](repeating: 20, count: 17 * 32 * 32 * 3)
        for f in 0..<17 {
            for y in 8..<16 {
                for x in f..<(f + 8) { for c in 0..<3 { pixels[((f * 32 + y) * 32 + x) * 3 + c] = 230 } }
            }
        }
        let truth = try Tensor(pixels, shape: [17, 32, 32, 3])
        let drift = RolloutDrift(
            generator: VideoGenerator(sampler: Sampler(model: model), tokenizer: tokenizer), window: 9,
            continuation: .reencode, reencode: 5)
        let prepared = try RolloutDrift.Truth(pixels: truth, context: 5, tokenizer: tokenizer)
        let (curves, video) = try drift.measure(prepared, caption: nil, options: .init(seed: 1))
        #expect(video.shape == truth.shape)
        for curve in [
            curves.vsTruth, prepared.reconstruction, prepared.holdLastFrame.vsTruth, curves.vsDecoded,
            prepared.holdLastFrame.vsDecoded,
        ] {
            #expect(curve.count == 17)
        }
        // The causal tokenizer decodes the kept context frames the same way alone or in the whole clip.
        #expect(curves.vsDecoded[0..<5].allSatisfy { $0 > 40 })
        let held = prepared.holdLastFrame.vsTruth
        #expect(held[4] == RolloutDrift.identical)
        #expect(held[16] < held[5])  // the square moves away from where it was
        #expect(throws: ModelError.self) {
            try RolloutDrift.Truth(pixels: truth.slice(dim: 0, 0..<5), context: 5, tokenizer: tokenizer)
        }
    }
}
