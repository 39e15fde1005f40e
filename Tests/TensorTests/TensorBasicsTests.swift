import Testing
@testable import Tensor

@Suite("Tensor basics over LibTorch")
struct TensorBasicsTests {
    @Test("values round-trip with their shape and dtype")
    func roundTrip() throws {
        let t = try Tensor([1, 2, 3, 4, 5, 6] as [Float], shape: [2, 3])
        #expect(t.shape == [2, 3])
        #expect(t.dtype == .float32)
        #expect(t.count == 6)
        #expect(t.device == .cpu)
        #expect(try t.scalars(as: Float.self) == [1, 2, 3, 4, 5, 6])
        #expect(try t.to(.int64).scalars(as: Int64.self) == [1, 2, 3, 4, 5, 6])
        #expect(try Tensor([true, false]).scalars(as: Bool.self) == [true, false])
    }

    @Test("arithmetic, broadcasting and reductions give the right numbers")
    func arithmetic() throws {
        let a = try Tensor([1, 2, 3, 4] as [Float], shape: [2, 2])
        let b = try Tensor([10, 20] as [Float], shape: [2])
        #expect(try (a + b).scalars(as: Float.self) == [11, 22, 13, 24])
        #expect(try (a * 2 - 1).scalars(as: Float.self) == [1, 3, 5, 7])
        #expect(try (1 - a).scalars(as: Float.self) == [0, -1, -2, -3])
        #expect(try a.sum().item() == 10)
        #expect(try a.mean(dims: [1]).scalars(as: Float.self) == [1.5, 3.5])
        #expect(try a.max(dims: [0]).scalars(as: Float.self) == [3, 4])
        #expect(try a.argmax(dim: 1).scalars(as: Int64.self) == [1, 1])
        #expect(try a.matmul(a).scalars(as: Float.self) == [7, 10, 15, 22])
        #expect(try a.softmax(dim: 1).sum(dims: [1]).scalars(as: Float.self).allSatisfy { Swift.abs($0 - 1) < 1e-6 })
        #expect(try a.norm(dims: [1]).scalars(as: Float.self).map { ($0 * 1000).rounded() } == [2236, 5000])
    }

    @Test("replacing(where:with:) takes `other` where the condition holds and keeps `self` elsewhere")
    func replacingWhere() throws {
        let a = try Tensor([1, 2, 3, 4] as [Float], shape: [4])
        #expect(try a.replacing(where: a.greater(2), with: Tensor.zeros([4])).scalars(as: Float.self) == [1, 2, 0, 0])
    }

    @Test("shape operations")
    func shapes() throws {
        let t = try Tensor.arange(0, 24).reshaped([2, 3, 4])
        #expect(try t.permuted([2, 0, 1]).shape == [4, 2, 3])
        #expect(try t.slice(dim: 2, 1..<3).shape == [2, 3, 2])
        #expect(try t.select(dim: 0, 1).scalars(as: Float.self).first == 12)
        #expect(try Tensor.cat([t, t], dim: 1).shape == [2, 6, 4])
        #expect(try Tensor.stack([t, t], dim: 0).shape == [2, 2, 3, 4])
        #expect(try t.split(size: 3, dim: 2).map(\.shape) == [[2, 3, 3], [2, 3, 1]])
        #expect(try t.flattened(from: 1).shape == [2, 12])
        #expect(try t.unsqueezed(dim: 0).squeezed(dim: 0).shape == [2, 3, 4])
        #expect(try t.padded([1, 1]).shape == [2, 3, 6])
    }

    @Test("LibTorch errors arrive as thrown Swift errors, not crashes")
    func errorsAreThrown() throws {
        let a = try Tensor.zeros([3, 4])
        let b = try Tensor.zeros([5, 6])
        do {
            _ = try a.matmul(b)
            Issue.record("a 3×4 · 5×6 product was accepted")
        } catch let error as TorchError {
            #expect(error.code == .operation)
            #expect(error.cause?.contains("cannot be multiplied") == true, "\(error)")
        }
        #expect(throws: TorchError.self) { try a.reshaped([7]) }
        #expect(throws: TorchError.self) { try Tensor([1, 2, 3] as [Float], shape: [2, 2]) }
        let missing = Operator("aten::no_such_operator")
        #expect(throws: TorchError.self) { try missing.call([]) }
        // Still usable afterwards.
        #expect(try (a + 1).sum().item() == 12)
    }

    @Test("LibTorch runs on OpenBLAS (the reference BLAS is ~30× slower), and says so")
    func blas() throws {
        _ = try Tensor.ones([64, 64]).matmul(Tensor.ones([64, 64]))
        #expect(Torch.blasLibrary.hasPrefix("OpenBLAS"), "\(Torch.blasLibrary)")
    }

    @Test("the thread count is what we set")
    func threads() {
        let before = Torch.threads
        Torch.threads = 2
        #expect(Torch.threads == 2)
        Torch.threads = before
    }

    @Test("seeded generators repeat exactly, and their state can be saved and restored")
    func generators() throws {
        let a = try Tensor.randn([5], generator: Generator(seed: 7)).scalars(as: Float.self)
        let b = try Tensor.randn([5], generator: Generator(seed: 7)).scalars(as: Float.self)
        let c = try Tensor.randn([5], generator: Generator(seed: 8)).scalars(as: Float.self)
        #expect(a == b)
        #expect(a != c)
        let g = Generator(seed: 1)
        _ = try Tensor.rand([3], generator: g)
        let saved = g.state
        let next = try Tensor.rand([3], generator: g).scalars(as: Float.self)
        try g.restore(saved)
        #expect(try Tensor.rand([3], generator: g).scalars(as: Float.self) == next)
    }
}
