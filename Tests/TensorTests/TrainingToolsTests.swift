import Testing
import Tensor

/// What a transformer's training loop and sampler need from the tensor engine.
@Suite("Sampling, clipping, parameter groups, attention bias")
struct TrainingToolsTests {
    @Test("per-element Bernoulli: certain at 0 and 1, the right rate in between, the same draws from the same seed")
    func bernoulli() throws {
        let certain = try Tensor([0, 1, 0, 1] as [Float]).bernoulli(generator: Generator(seed: 1))
        #expect(try certain.scalars(as: Float.self) == [0, 1, 0, 1])
        let p = try Tensor.full([20_000], 0.3)
        let a = try p.bernoulli(generator: Generator(seed: 7))
        let b = try p.bernoulli(generator: Generator(seed: 7))
        #expect(try a.scalars(as: Float.self) == b.scalars(as: Float.self))
        #expect(Swift.abs(try a.mean().item() - 0.3) < 0.02)
    }

    @Test("multinomial draws only indices with weight")
    func multinomial() throws {
        let weights = try Tensor([0, 1, 0, 2, 0, 0] as [Float]).reshaped([2, 3])
        let drawn = try weights.multinomial(1, generator: Generator(seed: 3))
        #expect(drawn.shape == [2, 1])
        #expect(try drawn.scalars(as: Int64.self) == [1, 0])
    }

    @Test("gradient-norm clipping scales the joint norm down to the limit and reports the norm before")
    func clipping() throws {
        let a = try Tensor([0, 0] as [Float]).requiringGrad()
        let b = try Tensor([0] as [Float]).requiringGrad()
        try ((a * Tensor([3, 0] as [Float])).sum() + (b * 4).sum()).backward()  // grads [3, 0] and [4]: norm 5
        #expect(Swift.abs(try clipGradientNorm([a, b], maxNorm: 10) - 5) < 1e-6)
        #expect(try a.grad?.scalars(as: Float.self) == [3, 0])  // under the limit: untouched
        #expect(Swift.abs(try clipGradientNorm([a, b], maxNorm: 1) - 5) < 1e-6)
        let clipped = try a.grad!.scalars(as: Float.self) + b.grad!.scalars(as: Float.self)
        #expect(Swift.abs(clipped[0] - 0.6) < 1e-5 && clipped[1] == 0 && Swift.abs(clipped[2] - 0.8) < 1e-5)
    }

    @Test("AdamW groups: decay shrinks the matrices only; norms, biases and embeddings keep their values")
    func groups() throws {
        let matrix = try Tensor([1, 1, 1, 1] as [Float]).reshaped([2, 2]).requiringGrad()
        let bias = try Tensor([1, 1] as [Float]).requiringGrad()
        let embedding = try Tensor([1, 1, 1, 1] as [Float]).reshaped([2, 2]).requiringGrad()
        let named: [(name: String, tensor: Tensor)] = [
            ("fc.weight", matrix), ("fc.bias", bias), ("tok_embedding", embedding),
        ]
        let groups = AdamW.decayGroups(named, weightDecay: 0.5)
        #expect(groups.map(\.parameters.count) == [1, 2])
        let optimizer = try AdamW(groups: groups, .init(learningRate: 0.1))
        #expect(optimizer.parameters.count == 3)
        // A zero gradient: only decoupled weight decay moves a parameter, by lr · wd.
        try (matrix.sum() * 0 + bias.sum() * 0 + embedding.sum() * 0).backward()
        try optimizer.step()
        #expect(try matrix.scalars(as: Float.self).allSatisfy { Swift.abs($0 - 0.95) < 1e-6 })
        #expect(try bias.scalars(as: Float.self) == [1, 1])
        #expect(try embedding.scalars(as: Float.self) == [1, 1, 1, 1])
        #expect(try optimizer.state(of: 2).step == 1)  // indices run across groups
    }

    @Test("a weight average moves by (1 − decay) toward the weights each update and restores only onto its shapes")
    func parameterAverage() throws {
        final class Pair: Module {
            let weight: Tensor
            init(_ values: [Float]) throws { weight = try Tensor(values) }
        }
        let model = try Pair([0, 4])
        let average = try ParameterAverage(of: model, decay: 0.75)
        try withoutGrad { try model.weight.copy_(Tensor([8, 0] as [Float])) }
        try average.update(from: model)  // 0.75 · [0, 4] + 0.25 · [8, 0]
        #expect(try average.values["weight"]!.scalars(as: Float.self) == [2, 3])
        #expect(try model.weight.scalars(as: Float.self) == [8, 0])  // the model keeps its own weights
        try average.update(from: model)
        #expect(try average.values["weight"]!.scalars(as: Float.self) == [3.5, 2.25])

        let restored = try ParameterAverage(restoring: average.values, for: model, decay: 0.75)
        #expect(try restored.values["weight"]!.scalars(as: Float.self) == [3.5, 2.25])
        #expect(throws: TorchError.self) { try ParameterAverage(restoring: [:], for: model, decay: 0.75) }
        let other = try Pair([1])
        #expect(throws: TorchError.self) { try ParameterAverage(restoring: average.values, for: other, decay: 0.75) }
        #expect(throws: TorchError.self) { try ParameterAverage(of: model, decay: 1) }
    }

    @Test("an additive −∞ bias is the same as a mask")
    func attentionBias() throws {
        let generator = Generator(seed: 5)
        let q = try Tensor.randn([1, 3, 4], generator: generator)
        let k = try Tensor.randn([1, 3, 4], generator: generator)
        let v = try Tensor.randn([1, 3, 4], generator: generator)
        let allowed: [Bool] = [true, false, false, true, true, false, true, true, true]
        let mask = try Tensor(allowed.map { $0 ? Float(1) : 0 }).reshaped([3, 3]).greater(0.5)
        let bias = try Tensor(allowed.map { $0 ? Float(0) : -Float.infinity }).reshaped([3, 3])
        let masked = try attention(query: q, key: k, value: v, mask: mask).scalars(as: Float.self)
        let biased = try attention(query: q, key: k, value: v, bias: bias).scalars(as: Float.self)
        #expect(zip(masked, biased).allSatisfy { Swift.abs($0 - $1) < 1e-6 })
    }
}
