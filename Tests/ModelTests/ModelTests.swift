import Foundation
import Tensor
import Testing
import TokenFormat
@testable import Model

@Suite("VideoAR transformer")
struct ModelTests {
    static let configuration = ModelConfiguration(
        name: "test", width: 48, depth: 2, heads: 2, bitsPerToken: 8, maxScales: 4, captionVocabulary: 64, seed: 3)
    /// 3 latent frames of a 4×4 grid at scales 1×1, 2×2, 4×4: 63 tokens in 9 blocks.
    static let layout = SequenceLayout(frames: 3, schedule: ScaleSchedule(height: 4, width: 4, sides: [1, 2, 4]))

    /// A model whose adaLN gates are not zero, so every block actually mixes tokens.
    static func model(rope: RotaryKind = .temporal) throws -> VideoARTransformer {
        var configuration = configuration
        configuration.rope = rope
        let model = try VideoARTransformer(configuration)
        let g = Generator(seed: 11)
        try withoutGrad {
            for (name, p) in model.namedParameters() where name.contains("modulation") {
                try p.copy_(Tensor.randn(p.shape, generator: g) * 0.1)
            }
        }
        return model
    }

    static func difference(_ a: Tensor, _ b: Tensor) throws -> Double { try (a - b).abs().max().item() }

    /// The sampler's way: one `step` per block against a KV cache, frames older than `window`
    /// evicted. Returns the logits of every block, concatenated, and the cache.
    static func blockByBlock(_ model: VideoARTransformer, _ inputs: Tensor, _ condition: Tensor, window: Int? = nil)
        throws -> (Tensor, KVCache)
    {
        let cache = KVCache(depth: configuration.depth)
        var pieces: [Tensor] = []
        for t in 0..<layout.frames {
            if let window, t >= window {
                try cache.evict(before: layout.range(frame: t - window + 1, scale: 0).lowerBound)
            }
            for k in 0..<layout.scalesPerFrame {
                let range = layout.range(frame: t, scale: k)
                pieces.append(
                    try model.step(
                        inputs: inputs.slice(dim: 1, range), frame: t, scale: k, condition: condition, layout: layout,
                        cache: cache))
            }
        }
        return (try Tensor.cat(pieces, dim: 1), cache)
    }

    @Test("changing the tokens of a later (frame, scale) block never changes the logits of earlier blocks")
    func blockCausality() throws {
        let model = try Self.model()
        let g = Generator(seed: 1)
        let inputs = try Tensor.randn([2, Self.layout.count, 8], generator: g)
        let condition = try model.captions(["a cat", nil])
        let logits = try withoutGrad { try model(inputs: inputs, condition: condition, layout: Self.layout) }
        for (frame, scale) in [(0, 2), (1, 0), (1, 1), (2, 2)] {
            let range = Self.layout.range(frame: frame, scale: scale)
            // Replace everything from this block on.
            let changed = try Tensor.cat(
                [
                    inputs.slice(dim: 1, 0..<range.lowerBound),
                    Tensor.randn([2, Self.layout.count - range.lowerBound, 8], generator: g),
                ], dim: 1)
            let after = try withoutGrad { try model(inputs: changed, condition: condition, layout: Self.layout) }
            // Earlier blocks: identical. This block's tokens see each other, so its logits change.
            #expect(
                try Self.difference(
                    logits.slice(dim: 1, 0..<range.lowerBound), after.slice(dim: 1, 0..<range.lowerBound)) == 0)
            if range.lowerBound > 0 {
                #expect(try Self.difference(logits.slice(dim: 1, range), after.slice(dim: 1, range)) > 1e-4)
            }
        }
    }

    @Test(
        "the KV-cached block-by-block pass gives the teacher-forced logits",
        arguments: [RotaryKind.temporal, .sequence])
    func cachedEqualsTeacherForced(rope: RotaryKind) throws {
        let model = try Self.model(rope: rope)
        let g = Generator(seed: 2)
        let inputs = try Tensor.randn([2, Self.layout.count, 8], generator: g)
        let condition = try model.captions(["waves on a beach", "a red ball"])
        try withoutGrad {
            let full = try model(inputs: inputs, condition: condition, layout: Self.layout)
            let (cached, _) = try Self.blockByBlock(model, inputs, condition)
            #expect(try Self.difference(cached, full) < 1e-4)
            // A block out of order is refused rather than computed with wrong positions.
            #expect(throws: ModelError.self) {
                try model.step(
                    inputs: inputs.slice(dim: 1, 0..<1), frame: 0, scale: 1, condition: condition,
                    layout: Self.layout, cache: KVCache(depth: 2))
            }
        }
    }

    @Test(
        "a sliding window over the KV cache gives the teacher-forced logits with every frame older than the window masked"
    )
    func slidingWindow() throws {
        let model = try Self.model()
        let g = Generator(seed: 6)
        let inputs = try Tensor.randn([2, Self.layout.count, 8], generator: g)
        let condition = try model.captions(["a dog", nil])
        // Window of 2 latent frames: frame 2 no longer sees frame 0 (the start block included).
        let visible: [[[Bool]]] = Array(
            repeating: [[false, false, false], [true, false, false], [false, true, false]], count: 2)
        try withoutGrad {
            let masked = try model(
                inputs: inputs, condition: condition, layout: Self.layout, mask: Self.layout.frameMask(visible))
            let (windowed, cache) = try Self.blockByBlock(model, inputs, condition, window: 2)
            #expect(try Self.difference(windowed, masked) < 1e-4)
            // …and frame 2 differs from the full-context pass, so the window really cut something.
            let full = try model(inputs: inputs, condition: condition, layout: Self.layout)
            let frame2 = Self.layout.range(frame: 2, scale: 0).lowerBound..<Self.layout.count
            #expect(try Self.difference(windowed.slice(dim: 1, frame2), full.slice(dim: 1, frame2)) > 1e-4)
            #expect(
                cache.count == Self.layout.count && cache.evicted == Self.layout.range(frame: 1, scale: 0).lowerBound)
        }
    }

    @Test("RoPE scores depend only on the relative position inside each axis")
    func ropeIsRelative() throws {
        let rope = RotaryEmbedding(headDim: 16, timeShare: 0.25, base: 100)
        #expect(rope.pairs.time == 2 && rope.pairs.height + rope.pairs.width == 6)
        let g = Generator(seed: 4)
        let q = try Tensor.randn([1, 1, 1, 16], generator: g)
        let k = try Tensor.randn([1, 1, 1, 16], generator: g)
        func score(_ a: (t: Int, h: Int, w: Int), _ b: (t: Int, h: Int, w: Int)) throws -> Double {
            let ta = try rope.tables([a]), tb = try rope.tables([b])
            let rq = try RotaryEmbedding.rotate(q, cos: ta.cos, sin: ta.sin)
            let rk = try RotaryEmbedding.rotate(k, cos: tb.cos, sin: tb.sin)
            return try (rq * rk).sum().item()
        }
        let base = try score((1, 2, 3), (4, 0, 5))
        #expect(abs(try score((3, 2, 3), (6, 0, 5)) - base) < 1e-4)  // time shifted
        #expect(abs(try score((1, 9, 3), (4, 7, 5)) - base) < 1e-4)  // height shifted
        #expect(abs(try score((1, 2, 0), (4, 0, 2)) - base) < 1e-4)  // width shifted
        #expect(abs(try score((1, 2, 3), (5, 0, 5)) - base) > 1e-4)  // a different offset differs
        #expect(abs(try score((1, 2, 3), (4, 1, 5)) - base) > 1e-4)
    }

    @Test("1D sequence RoPE (the ablation's baseline) turns every pair by the token's index alone")
    func sequenceRope() throws {
        let rope = RotaryEmbedding(headDim: 16, timeShare: 0.25, base: 100, kind: .sequence)
        #expect(rope.pairs.time == 8 && rope.pairs.height == 0 && rope.pairs.width == 0)
        // Positions are ignored; only the place in the list counts.
        let a = try rope.tables([(0, 0, 0), (5, 3, 2), (0, 0, 0)])
        let b = try rope.tables([(9, 9, 9), (0, 0, 0), (1, 1, 1)])
        #expect(try Self.difference(a.cos, b.cos) == 0 && Self.difference(a.sin, b.sin) == 0)
        let row1: [Float] = try a.cos.select(dim: 0, 1).scalars()
        #expect(abs(row1[0] - Float(Foundation.cos(1.0))) < 1e-6)  // index 1, fastest pair: angle 1 rad
    }

    @Test("coarse scales sit on the finest grid; blocks run frame by frame, coarse to fine")
    func layoutPositions() throws {
        let l = Self.layout
        #expect(l.count == 63 && l.startTokens == 1)
        #expect(l.range(frame: 1, scale: 2) == 26..<42)
        let scale1 = l.range(frame: 0, scale: 1)
        #expect(l.positions[scale1].map { [$0.h, $0.w] } == [[0, 0], [0, 2], [2, 0], [2, 2]])
        #expect(l.block[62] == 8 && l.frame[62] == 2 && l.scale[62] == 2)
        // The frame mask hides an earlier frame's tokens from later frames only.
        let bytes: [UInt8] = try l.frameMask([[[false, false, false], [false, false, false], [true, false, false]]])
            .to(.uint8).scalars()
        let mask = bytes.map { $0 > 0 }
        func visible(_ q: Int, _ k: Int) -> Bool { mask[q * l.count + k] }
        #expect(visible(30, 5) == false)  // frame 1 → frame 0: masked
        #expect(visible(50, 5) == true)  // frame 2 → frame 0: kept
        #expect(visible(50, 30) == false)  // frame 2 → frame 1: masked
        #expect(visible(50, 45) == true)  // own frame
    }

    @Test("no caption gives the learned empty condition; different captions give different conditions")
    func captions() throws {
        let model = try Self.model()
        let c = try model.captions([nil, "", "a red ball", "A RED ball!", "waves"])
        let rows = try (0..<5).map { try c.select(dim: 0, $0) }
        #expect(try Self.difference(rows[0], model.captions.empty) == 0)
        #expect(try Self.difference(rows[1], model.captions.empty) == 0)
        #expect(try Self.difference(rows[2], rows[3]) == 0)  // case and punctuation do not matter
        #expect(try Self.difference(rows[2], rows[4]) > 1e-4)
    }

    @Test("a saved model loads back with the same logits")
    func checkpointRoundTrip() throws {
        let model = try Self.model()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "model-\(UInt64.random(in: 0...UInt64.max)).safetensors"
        ).path
        try model.save(to: path, metadata: ["videoar.tokenizer.id": "abc"])
        let loaded = try VideoARTransformer(checkpoint: path)
        #expect(loaded.configuration == Self.configuration)
        #expect(loaded.checkpointMetadata["videoar.tokenizer.id"] == "abc")
        let inputs = try Tensor.randn([1, Self.layout.count, 8], generator: Generator(seed: 5))
        try withoutGrad {
            let a = try model(inputs: inputs, condition: model.captions(["x"]), layout: Self.layout)
            let b = try loaded(inputs: inputs, condition: loaded.captions(["x"]), layout: Self.layout)
            #expect(try Self.difference(a, b) == 0)
        }
    }

    static let miniLMFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("models/all-MiniLM-L6-v2").path

    @Test(
        "with all-MiniLM-L6-v2 the caption encoder is frozen and not saved; paraphrases land closer than other captions",
        .enabled(
            if: FileManager.default.fileExists(atPath: miniLMFolder + "/model.safetensors"),
            "needs `bash Scripts/fetch-text-encoder`"))
    func pretrainedCaptions() throws {
        var c = Self.configuration
        c.captionEncoder = .miniLM
        c.captionEncoderFolder = Self.miniLMFolder
        let model = try VideoARTransformer(c)
        let names = model.namedParameters().map(\.name)
        #expect(names.contains("captions.fc1.weight") && !names.contains { $0.contains("encoder.layer") })
        #expect(model.captions.fc1.weight.shape == [48, 384])
        let v = try model.captions([
            nil, "a red square moves left", "a crimson box travels to the left", "waves at sunset",
        ])
        #expect(try Self.difference(v.select(dim: 0, 0), model.captions.empty) == 0)
        // The frozen 384-d vectors keep meaning apart before any training.
        let s = try model.captions._sentences!.embed([
            "a red square moves left", "a crimson box travels to the left", "waves at sunset",
        ])
        let cos = try s.matmul(s.transposed(0, 1))
        #expect(try cos.select(dim: 0, 0).select(dim: 0, 1).item() > cos.select(dim: 0, 0).select(dim: 0, 2).item())
    }
}
