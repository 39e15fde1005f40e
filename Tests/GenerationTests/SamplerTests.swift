import Model
import Tensor
import Testing
import TokenFormat
@testable import Generation

@Suite("Sampler")
struct SamplerTests {
    static let schedule = ScaleSchedule(height: 4, width: 4, sides: [1, 2, 4])
    static let codes = MultiScaleCodes(schedule: schedule, bitsPerToken: 8)
    static let layout = SequenceLayout(frames: 3, schedule: schedule)
    /// A seeded model: every call builds the same weights (a model caches per-layout tensors, so tests
    /// running in parallel each get their own).
    static func model() throws -> VideoARTransformer {
        try VideoARTransformer(
            ModelConfiguration(name: "test", width: 32, depth: 2, heads: 2, bitsPerToken: 8, maxScales: 4, seed: 1))
    }

    static func same(_ a: Tensor, _ b: Tensor) throws -> Bool {
        try a.shape == b.shape && a.equal(b).logicalNot().to(.int64).sum().item() == 0
    }

    @Test("a seed gives the same clips; another seed gives others")
    func seeded() throws {
        let sampler = Sampler(model: try Self.model())
        func draw(_ seed: UInt64) throws -> Tensor {
            try sampler.sample(
                captions: ["a red ball", nil], layout: Self.layout, codes: Self.codes,
                options: .init(guidance: .t2v, topP: 1, seed: seed))
        }
        let a = try draw(1)
        #expect(a.shape == [2, 3, 21, 8] && a.dtype == .uint8)
        #expect(try Self.same(a, draw(1)))
        #expect(!(try Self.same(a, draw(2))))
    }

    @Test("given prefix frames are kept as they are (image- and video-to-video)")
    func prefix() throws {
        let prefix = try Tensor.rand([1, 2, 21, 8], generator: Generator(seed: 3)).greater(0.5).to(.uint8)
        let bits = try Sampler(model: Self.model()).sample(
            captions: ["x", "y"], layout: Self.layout, codes: Self.codes, options: .init(seed: 4), prefix: prefix)
        for b in 0..<2 {
            #expect(try Self.same(bits.select(dim: 0, b).slice(dim: 0, 0..<2), prefix.select(dim: 0, 0)))
        }
        #expect(throws: ModelError.self) {
            try Sampler(model: Self.model()).sample(
                captions: ["x"], layout: Self.layout, codes: Self.codes, options: .init(),
                prefix: Tensor.zeros([1, 4, 21, 8], dtype: .uint8))
        }
    }

    @Test("top-p 0.5 makes every bit its likelier value: the same clip for every seed")
    func greedy() throws {
        let sampler = Sampler(model: try Self.model())
        let a = try sampler.sample(
            captions: ["waves"], layout: Self.layout, codes: Self.codes, options: .init(topP: 0.5, seed: 1))
        let b = try sampler.sample(
            captions: ["waves"], layout: Self.layout, codes: Self.codes, options: .init(topP: 0.5, seed: 9))
        #expect(try Self.same(a, b))
    }

    @Test("the guidance presets ramp across frames and scales as the paper describes")
    func guidance() {
        let ucf = GuidanceSchedule.ucf
        #expect(ucf.gamma(frame: 0, frames: 5, scale: 0, scales: 6) == 1)
        #expect(ucf.gamma(frame: 4, frames: 5, scale: 0, scales: 6) == 5)
        #expect(ucf.gamma(frame: 0, frames: 5, scale: 5, scales: 6) == 10)
        #expect(ucf.gamma(frame: 2, frames: 5, scale: 0, scales: 6) == 3)
        let t2v = GuidanceSchedule.t2v
        #expect(t2v.gamma(frame: 0, frames: 5, scale: 3, scales: 6) == 5)
        #expect(t2v.gamma(frame: 4, frames: 5, scale: 0, scales: 6) == 3)
        #expect(GuidanceSchedule(preset: "none")?.isGuided == false)
        #expect(GuidanceSchedule(preset: "2.5") == .constant(2.5))
        #expect(GuidanceSchedule(preset: "loud") == nil)
    }

    @Test("a tokenizer with other bits per token is refused")
    func mismatch() throws {
        #expect(throws: ModelError.self) {
            try Sampler(model: Self.model()).sample(
                captions: [nil], layout: Self.layout,
                codes: MultiScaleCodes(schedule: Self.schedule, bitsPerToken: 16), options: .init())
        }
    }

    @Test("sampling with the KV cache draws the same clips as recomputing every earlier block")
    func cacheMatchesRecompute() throws {
        let sampler = Sampler(model: try Self.model())
        let options = Sampler.Options(guidance: .ucf, seed: 5)
        let cached = try sampler.sample(captions: ["a", nil], layout: Self.layout, codes: Self.codes, options: options)
        let recomputed = try sampler.sample(
            captions: ["a", nil], layout: Self.layout, codes: Self.codes, options: options, useCache: false)
        #expect(try Self.same(cached, recomputed))
    }
}
