import Logging
import Model
import Tensor
import Testing
import TokenFormat
import Tokenizer
@testable import Generation

@Suite("Frame re-encoding")
struct FrameReencodingTests {
    @Test("past the window, each window adds window − context frames; the first window is the plain sample")
    func longVideo() throws {
        let tokenizer = try Tokenizer(
            configuration: TokenizerConfiguration(
                name: "tiny", baseChannels: 8, channelMultipliers: [1, 2, 2, 2, 2], latentDim: 8, normGroups: 4),
            logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        let model = try VideoARTransformer(
            ModelConfiguration(name: "test", width: 32, depth: 1, heads: 2, bitsPerToken: 8, maxScales: 8))
        let schedule = ScaleSchedule(height: 2, width: 2, sides: tokenizer.configuration.scaleSides)  // 32×32 pixels
        let long = FrameReencoding(sampler: Sampler(model: model), tokenizer: tokenizer)
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
        #expect(throws: ModelError.self) {
            try long.generate(captions: ["a"], frames: 20, window: 9, context: 5, schedule: schedule, options: .init())
        }
        #expect(throws: ModelError.self) {
            try long.generate(captions: ["a"], frames: 25, window: 9, context: 9, schedule: schedule, options: .init())
        }
    }
}
