import ConfigCoding
import CorpusSupport
import Foundation
import Logging
import Model
import Tensor
import Testing
import TokenDataset
import TokenFormat
import TestSupport
import TrainingRun
import Yams
@testable import ModelTraining

@Suite("Model training", .serialized)
struct ModelTrainingTests {
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    static func folder() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("model-run-\(UUID().uuidString)").path
    }

    static func configuration(_ corpus: TokenCorpus, steps: Int, stages: Int = 1) -> ModelTrainingConfiguration {
        var c = ModelTrainingConfiguration()
        c.model = ModelConfiguration(
            name: "test", width: 64, depth: 2, heads: 2, bitsPerToken: TokenCorpus.bits, maxScales: 4,
            captionVocabulary: 128)
        c.dataFolder = corpus.folder
        c.heldOut = HeldOutSplit(fraction: 0)
        let first = ModelTrainingConfiguration.Stage(
            name: "I", data: [DataQuery(frames: 17)], steps: steps, batch: 4, learningRate: 3e-3, warmupSteps: 5,
            minLearningRate: 3e-4)
        c.stages = [first]
        if stages == 2 {
            c.stages.append(
                .init(
                    name: "II", data: [DataQuery(frames: 1), DataQuery(frames: 17)], steps: steps, batch: 3,
                    learningRate: 1e-3, warmupSteps: 2, minLearningRate: 1e-4))
        }
        c.checkpointEvery = 1000
        c.evaluation = .init(every: 0, batches: 2)
        return c
    }

    @Test("overfitting a handful of clips drives the bit loss near zero")
    func overfit() throws {
        let corpus = try TokenCorpus(sources: [
            .init(clips: 1, caption: "one"), .init(clips: 1, caption: "two"), .init(clips: 1, caption: "three"),
            .init(clips: 1, caption: "four"),
        ])
        var c = Self.configuration(corpus, steps: 150)
        c.corruption.enabled = false
        c.frameMask.enabled = false
        c.captionDropout = 0
        let trainer = try ModelTrainer(
            configuration: c, runDirectory: Self.folder(), resume: false, logger: Self.logger)
        _ = try trainer.run()
        let records = try trainer.run.records(ModelTrainer.StepRecord.self)
        #expect(records.count == 150)
        #expect(records[0].nll > 0.6)  // chance: ln 2 per bit
        let last = records.suffix(10).map(\.nll).reduce(0, +) / 10
        #expect(last < 0.05, "final training nll \(last)")
        #expect(records.last!.accuracy > 0.99)
    }

    @Test("a stage whose steps cannot fit in memory is refused before the first step, naming the fix")
    func memoryCheck() throws {
        let corpus = try TokenCorpus(sources: [.init(clips: 3), .init(clips: 2, frames: 1)])
        var c = Self.configuration(corpus, steps: 2, stages: 2)
        // Stage II's 17-frame clips are 105 tokens: at a batch of 10⁶ a step needs terabytes.
        c.stages[1].batch = 1_000_000
        let run = Self.folder()
        let trainer = try ModelTrainer(configuration: c, runDirectory: run, resume: false, logger: Self.logger)
        let error = try #require(throws: TrainerError.self) { try trainer.run() }
        #expect(error.code == .configuration)
        #expect(error.message.contains("stage II") && error.message.contains("stages[1].batch"))
        #expect(error.message.contains("latent_frames"))
        #expect(try trainer.run.records(ModelTrainer.StepRecord.self).isEmpty)  // refused up front, not after stage I
        // The same stage over a 1-latent-frame window is 21 tokens a clip and fits.
        c.stages[1].batch = 3
        c.stages[1].data = [DataQuery(frames: 17, latentFrames: 1)]
        _ = try ModelTrainer(configuration: c, runDirectory: Self.folder(), resume: false, logger: Self.logger).run()
    }

    @Test("a run resumed with other queries plans the epoch again instead of training on the saved clips")
    func resumeWithNewQueries() throws {
        let corpus = try TokenCorpus(sources: [.init(clips: 5), .init(clips: 6)])
        var c = Self.configuration(corpus, steps: 6)
        let run = Self.folder()
        _ = try ModelTrainer(configuration: c, runDirectory: run, resume: false, logger: Self.logger).run(until: 1)
        c.stages[0].data = [DataQuery(frames: 17, latentFrames: 1)]
        let trainer = try ModelTrainer(configuration: c, runDirectory: run, resume: true, logger: Self.logger)
        _ = try trainer.run(until: 3)
        let frames = try trainer.run.records(ModelTrainer.StepRecord.self).map(\.frames)
        #expect(frames == [17, 1, 1])  // the saved plan's next batches were whole clips
    }

    @Test("an interrupted and resumed run equals the uninterrupted one bit for bit (across epochs and stages)")
    func resumeIsExact() throws {
        let corpus = try TokenCorpus(sources: [
            .init(clips: 5, caption: "a"), .init(clips: 4), .init(clips: 3, frames: 1, caption: "b"),
        ])
        let c = Self.configuration(corpus, steps: 7, stages: 2)  // 9 clips of 17 frames: 3 batches per epoch
        let whole = Self.folder()
        _ = try ModelTrainer(configuration: c, runDirectory: whole, resume: false, logger: Self.logger).run()
        let parts = Self.folder()
        #expect(
            try ModelTrainer(configuration: c, runDirectory: parts, resume: false, logger: Self.logger).run(until: 5)
                == .paused(step: 5))
        // A crash after the checkpoint leaves a log line the resumed run must drop.
        let handle = try #require(FileHandle(forWritingAtPath: parts + "/log.jsonl"))
        handle.seekToEndOfFile()
        handle.write(Data("{\"step\": 6, \"torn\n".utf8))
        try handle.close()
        #expect(
            try ModelTrainer(configuration: c, runDirectory: parts, resume: true, logger: Self.logger).run(until: 10)
                == .paused(step: 10))
        _ = try ModelTrainer(configuration: c, runDirectory: parts, resume: true, logger: Self.logger).run()
        let a = try RunFolder(whole).records(ModelTrainer.StepRecord.self)
        let b = try RunFolder(parts).records(ModelTrainer.StepRecord.self)
        #expect(a.count == 14 && b.count == 14)
        #expect(a.map(\.loss) == b.map(\.loss))
        #expect(a.map(\.batchIndex) == b.map(\.batchIndex) && a.map(\.epoch) == b.map(\.epoch))
        #expect(Set(a.map(\.stage)) == ["I", "II"])
        let x = try SafeTensors.read(whole + "/model.safetensors").tensors
        let y = try SafeTensors.read(parts + "/model.safetensors").tensors
        for (name, tensor) in x {
            #expect(try tensor.equal(y[name]!).logicalNot().to(.int64).sum().item() == 0, "\(name)")
        }
        // A second run into the same folder without --resume is refused.
        let refused = try #require(throws: TrainerError.self) {
            try ModelTrainer(configuration: c, runDirectory: whole, resume: false, logger: Self.logger)
        }
        #expect(refused.code == .checkpoint && refused.message.contains("--resume"))
    }

    @Test("the flip ratio ramps with the frame index and the first scale inherits the previous frame's last ratio")
    func flipSchedule() throws {
        var rng = SplitMix64(seed: 5)
        let c = ModelTrainingConfiguration.Corruption(minRatio: 0.05, maxRatio: 0.25, perFrame: 0.05, inherit: true)
        let draws = c.ratios(batch: 400, frames: 4, scales: 3, using: &rng)
        var means = [Double](repeating: 0, count: 4)
        for sample in draws {
            for t in 0..<4 {
                for k in 0..<3 {
                    let r = sample[t][k]
                    let high = 0.25 + 0.05 * Double(t)
                    let low = k == 0 && t > 0 ? sample[t - 1][2] : 0.05 + 0.05 * Double(t)
                    #expect(r >= min(low, high) - 1e-12 && r <= max(low, high) + 1e-12)
                    means[t] += r / 1200
                }
            }
        }
        #expect(zip(means, means.dropFirst()).allSatisfy { $0 < $1 }, "\(means)")
        #expect(abs(means[0] - 0.15) < 0.02)
        // Without inheritance, the first scale of every frame draws from the frame's own range.
        let plain = ModelTrainingConfiguration.Corruption(minRatio: 0, maxRatio: 0.1, perFrame: 0.2, inherit: false)
        for sample in plain.ratios(batch: 50, frames: 3, scales: 2, using: &rng) {
            for t in 0..<3 { #expect(sample[t][0] >= 0.2 * Double(t) && sample[t][0] <= 0.1 + 0.2 * Double(t)) }
        }
    }

    @Test("the random frame mask keeps past frames inside the window with the configured probability")
    func frameMaskDraws() throws {
        var rng = SplitMix64(seed: 9)
        let mask = ModelTrainingConfiguration.FrameMask(window: 2, probability: 0.3)
        let draws = mask.draw(batch: 2000, frames: 5, using: &rng)
        var kept = 0.0, eligible = 0.0
        for sample in draws {
            for t in 0..<5 {
                for past in 0..<5 {
                    if past >= t || past < t - 2 {
                        #expect(!sample[t][past])
                    } else {
                        eligible += 1
                        kept += sample[t][past] ? 1 : 0
                    }
                }
            }
        }
        #expect(abs(kept / eligible - 0.7) < 0.02)
    }

    @Test("teacher forcing: clean targets are the shard bits; after a flip, later targets correct the corrupted sum")
    func teacherForcing() throws {
        let bits = try Tensor.stack(
            [TokenCorpus.clipBits(seed: 3, frames: 9), TokenCorpus.clipBits(seed: 4, frames: 9)], dim: 0)  // [2, 3, 21, 8]
        let codes = MultiScaleCodes(schedule: TokenCorpus.schedule, bitsPerToken: 8)
        let layout = SequenceLayout(frames: 3, schedule: TokenCorpus.schedule)
        let forcing = TeacherForcing(codes: codes)
        let g = Generator(seed: 1)
        let clean = try forcing(bits: bits, ratios: nil, generator: g)
        let flat = try bits.reshaped([2, layout.count, 8]).to(.float32)
        #expect(try clean.targets.equal(flat).logicalNot().to(.int64).sum().item() == 0)
        // Scale 1's input is scale 0's code, downsampled: one 1×1 code upsampled and averaged back.
        let scale0 = try codes.code(
            bits: codes.grid(tokens: bits.select(dim: 1, 0).slice(dim: 1, 0..<1), scale: 0), scale: 0)
        let input1 = try clean.inputs.slice(dim: 1, 1..<5)  // [2, 4, 8]
        #expect(try (input1 - scale0.reshaped([2, 1, 8])).abs().max().item() < 1e-6)
        // Flip every bit of scale 0 of frame 0 (ratio 1), nothing else.
        let ratios = [[[1.0, 0, 0], [0, 0, 0], [0, 0, 0]], [[1.0, 0, 0], [0, 0, 0], [0, 0, 0]]]
        let flipped = try forcing(bits: bits, ratios: ratios, generator: g)
        // The flipped scale keeps its clean label; the next scale's target is re-quantized.
        #expect(
            try flipped.targets.slice(dim: 1, 0..<1).equal(flat.slice(dim: 1, 0..<1)).logicalNot().to(.int64).sum()
                .item() == 0)
        let latent = try codes.latent(
            (0..<3).map { k in
                let range = layout.range(frame: 0, scale: k)
                return try codes.grid(tokens: bits.select(dim: 1, 0).slice(dim: 1, range), scale: k)
            })
        let wrongSum = try codes.upsample(
            codes.code(
                bits: (1 - codes.grid(tokens: bits.select(dim: 1, 0).slice(dim: 1, 0..<1), scale: 0).to(.float32)).to(
                    .uint8), scale: 0), scale: 0)
        let corrected = try codes.tokens(grid: codes.quantize(residual: latent - wrongSum, scale: 1)).to(.float32)
        #expect(try flipped.targets.slice(dim: 1, 1..<5).equal(corrected).logicalNot().to(.int64).sum().item() == 0)
        #expect(
            try flipped.targets.slice(dim: 1, 1..<5).equal(flat.slice(dim: 1, 1..<5)).logicalNot().to(.int64).sum()
                .item() > 0)
        // Frame 1 has no flips of its own: its targets are clean, its first input is frame 0's corrupted sum.
        let frame1 = layout.range(frame: 1, scale: 0).lowerBound..<layout.range(frame: 1, scale: 2).upperBound
        #expect(
            try flipped.targets.slice(dim: 1, frame1).equal(flat.slice(dim: 1, frame1)).logicalNot().to(.int64).sum()
                .item() == 0)
        #expect(abs(flipped.flipped - 16.0 / 1008) < 1e-9)  // 2 clips × 8 bits of 2 × 3 frames × 21 tokens × 8 bits
    }

    @Test("the shipped configurations decode; the paper's layouts validate and build")
    func configurations() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Configs/model")
        var counts: [String: Int] = [:]
        for name in ["cpu-small", "L", "XL", "4B"] {
            let text = try String(contentsOf: root.appendingPathComponent(name + ".yaml"), encoding: .utf8)
            let c = try YAMLDecoder().decode(ModelTrainingConfiguration.self, from: text)
            try c.validate()
            // Build one block of the layout and count the rest: the full 4B model needs 16 GB.
            var one = c.model
            one.depth = 1
            let model = try VideoARTransformer(one)
            let block = model.blocks[0].parameterCount
            counts[name] = model.parameterCount + (c.model.depth - 1) * block
        }
        #expect(counts["cpu-small"]! < 10_000_000)
        #expect((900_000_000...1_200_000_000).contains(counts["L"]!), "\(counts)")
        #expect((2_000_000_000...2_600_000_000).contains(counts["XL"]!), "\(counts)")
        #expect((4_000_000_000...4_600_000_000).contains(counts["4B"]!), "\(counts)")
        // A typo in a key is an error naming it.
        #expect(throws: DecodingError.self) {
            try YAMLDecoder().decode(ModelTrainingConfiguration.self, from: "corruption: {max_ration: 0.3}")
        }
    }

    @Test("Schemas/train.schema.json documents every key with the built-in default")
    func schema() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let schema = root.appendingPathComponent("Schemas/train.schema.json")
        // model 14, held_out 2, optimizer 4, loss 1, corruption 5, frame_mask 3, evaluation 2, and 6 top-level keys
        #expect(try SchemaDefaults.leaves(of: schema).count == 39)
        let decoded = try JSONDecoder().decode(
            ModelTrainingConfiguration.self, from: SchemaDefaults.document(of: schema))
        #expect(decoded == ModelTrainingConfiguration())
    }

    @Test(
        "weight decay applies to the transformer's matrices only: never to norms, biases, embeddings or the empty caption"
    )
    func decayGroups() throws {
        let model = try VideoARTransformer(
            ModelConfiguration(width: 32, depth: 1, heads: 2, bitsPerToken: 8, captionVocabulary: 16))
        let groups = AdamW.decayGroups(model.namedParameters(), weightDecay: 0.05)
        let decayed = Set(groups[0].parameters.map(ObjectIdentifier.init))
        for (name, tensor) in model.namedParameters() {
            let expected = tensor.rank >= 2 && !name.lowercased().contains("embedding")
            #expect(decayed.contains(ObjectIdentifier(tensor)) == expected, "\(name)")
        }
        let names = model.namedParameters().filter { decayed.contains(ObjectIdentifier($0.tensor)) }.map(\.name)
        #expect(!names.contains("scaleEmbedding.weight") && !names.contains("captions.embedding.weight"))
        #expect(names.contains("blocks.0.attention.qkv.weight"))
    }

    @Test(
        "optimizer moments follow their parameter by name: a checkpoint restores into a regrouped optimizer, and a layout mismatch is an error"
    )
    func optimizerStateByName() throws {
        let model = try VideoARTransformer(
            ModelConfiguration(width: 32, depth: 1, heads: 2, bitsPerToken: 8, captionVocabulary: 16))
        let named = model.namedParameters()
        let written = try AdamW(groups: AdamW.decayGroups(named, weightDecay: 0.05))
        var loss = try Tensor(scalar: 0)
        for (k, (_, tensor)) in named.enumerated() { loss = try loss + tensor.pow(2).sum() * Double(k + 1) }
        try loss.backward()
        try written.step()
        var moments: [String: Tensor] = [:]
        let steps = try written.checkpoint(prefix: "model", into: &moments)
        #expect(moments["model.scaleEmbedding.weight.exp_avg"] != nil)
        // Everything in one group, in reverse order: every index moves.
        let reversed = Array(named.reversed())
        let regrouped = try AdamW(
            groups: [AdamW.Group(reversed.map(\.tensor), weightDecay: 0, names: reversed.map(\.name))])
        func sameMoments() throws -> Bool {
            try regrouped.parameters.indices.allSatisfy { i in
                let j = try #require(written.parameters.firstIndex { $0 === regrouped.parameters[i] })
                return try regrouped.state(of: i).expAvg?.scalars(as: Float.self)
                    == written.state(of: j).expAvg?.scalars(as: Float.self)
            }
        }
        #expect(try !sameMoments())
        try regrouped.restore(prefix: "model", from: moments, steps: steps, checkpoint: "test")
        #expect(try sameMoments())
        // Index-keyed moments put onto the wrong parameters are refused, not applied.
        var byIndex: [String: Tensor] = [:]
        for i in written.parameters.indices {
            let state = try written.state(of: i)
            byIndex["model.\(i).exp_avg"] = state.expAvg
            byIndex["model.\(i).exp_avg_sq"] = state.expAvgSq
        }
        #expect(throws: RunError.self) {
            try regrouped.restore(
                prefix: "model", from: byIndex, steps: steps, checkpoint: "test", legacyOrder: reversed.map(\.name))
        }
        try regrouped.restore(
            prefix: "model", from: byIndex, steps: steps, checkpoint: "test",
            legacyOrder: try #require(written.names))
        #expect(try sameMoments())
    }

    @Test("the ablation's variants switch the techniques on one at a time; the last is the full method")
    func ablationVariants() throws {
        let base = ModelTrainingConfiguration()
        let configurations = Ablation.variants.indices.map { Ablation.configuration(base, variant: $0) }
        let baseline = configurations[0]
        #expect(baseline.model.rope == .sequence && baseline.corruption.perFrame == 0)
        #expect(!baseline.corruption.inherit && !baseline.frameMask.enabled && baseline.corruption.enabled)
        var full = configurations.last!
        full.model.name = base.model.name
        #expect(full == base)
        // Each row differs from the one before in exactly one switch.
        for (previous, next) in zip(configurations, configurations.dropFirst()) {
            let switches = [
                previous.model.rope != next.model.rope, previous.corruption.perFrame != next.corruption.perFrame,
                previous.corruption.inherit != next.corruption.inherit,
                previous.frameMask.enabled != next.frameMask.enabled,
            ]
            #expect(switches.filter { $0 }.count == 1)
            var a = previous, b = next
            (a.model.name, a.model.rope, a.corruption, a.frameMask) = ("", .temporal, base.corruption, base.frameMask)
            (b.model.name, b.model.rope, b.corruption, b.frameMask) = ("", .temporal, base.corruption, base.frameMask)
            #expect(a == b)  // data, steps, seeds, optimiser, model size: shared
        }
    }
}
