import Testing
import Tensor

@Suite("Autograd and AdamW")
struct AutogradTests {
    @Test("gradients of a known function")
    func gradients() throws {
        let x = try Tensor([1, -2, 3] as [Float]).requiringGrad()
        let y = try (x * x).sum() + (x * 3).sum()  // d/dx = 2x + 3
        try y.backward()
        #expect(try x.grad?.scalars(as: Float.self) == [5, -1, 9])
    }

    @Test("no-grad scopes record nothing")
    func noGrad() throws {
        let x = try Tensor([1, 2] as [Float]).requiringGrad()
        let y = try withoutGrad { try x * 2 }
        #expect(!y.requiresGrad)
        #expect(Torch.isGradEnabled)
        #expect(try (x * 2).requiresGrad)
    }

    @Test("AdamW minimises a quadratic, and its state survives a save/restore")
    func adamw() throws {
        let w = try Tensor([0, 0] as [Float]).requiringGrad()
        let target = try Tensor([3, -1] as [Float])
        let optimizer = try AdamW([w], .init(learningRate: 0.1, weightDecay: 0))
        for _ in 0..<300 {
            try optimizer.zeroGrad()
            let loss = try ((w - target) * (w - target)).sum()
            try loss.backward()
            try optimizer.step()
        }
        let values = try w.scalars(as: Float.self)
        #expect(Swift.abs(values[0] - 3) < 0.05 && Swift.abs(values[1] + 1) < 0.05, "\(values)")
        let state = try optimizer.state(of: 0)
        #expect(state.step == 300)
        let other = try AdamW([try w.detached().cloned().requiringGrad()], .init(learningRate: 0.1, weightDecay: 0))
        try other.setState(of: 0, state)
        #expect(try other.state(of: 0).step == 300)
        #expect(try other.state(of: 0).expAvgSq?.scalars(as: Float.self) == state.expAvgSq?.scalars(as: Float.self))
    }
}
