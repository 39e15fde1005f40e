import Testing
@testable import Tensor

@Suite("Layers and functional blocks")
struct LayersTests {
    @Test("causal Conv3d: changing frame k never changes outputs before k")
    func causalConvolution() throws {
        let g = Generator(seed: 3)
        let conv = try Conv3d(2, 4, kernel: (3, 3), generator: g)
        let x = try Tensor.randn([1, 2, 9, 8, 8], generator: g)
        let y = try conv(x)
        #expect(y.shape == [1, 4, 9, 8, 8])
        let k = 5
        let changed = try Tensor.cat([x.slice(dim: 2, 0..<k), x.slice(dim: 2, k..<9) * -3 + 1], dim: 2)
        let y2 = try conv(changed)
        let before = try (y.slice(dim: 2, 0..<k) - y2.slice(dim: 2, 0..<k)).abs().max().item()
        let after = try (y.slice(dim: 2, k..<9) - y2.slice(dim: 2, k..<9)).abs().max().item()
        #expect(before == 0)
        #expect(after > 0.01)
    }

    @Test("causal Conv3d with temporal stride 2 maps 17 → 9 → 5 frames")
    func temporalStride() throws {
        let g = Generator(seed: 1)
        let down = try Conv3d(1, 1, kernel: (3, 3), stride: (2, 2), generator: g)
        let x = try Tensor.zeros([1, 1, 17, 16, 16])
        let y = try down(x)
        #expect(y.shape == [1, 1, 9, 8, 8])
        #expect(try down(y).shape == [1, 1, 5, 4, 4])
    }

    @Test("interpolation: area averages, nearest repeats, bilinear and trilinear keep constants")
    func interpolation() throws {
        let x = try Tensor.arange(0, 16).reshaped([1, 1, 4, 4])
        #expect(try x.interpolate(size: [2, 2], mode: .area).scalars(as: Float.self) == [2.5, 4.5, 10.5, 12.5])
        #expect(
            try x.interpolate(size: [8, 8], mode: .nearest).slice(dim: 3, 0..<2).slice(dim: 2, 0..<1)
                .scalars(as: Float.self) == [0, 0])
        let constant = try Tensor.full([1, 2, 3, 3], 7)
        #expect(
            try constant.interpolate(size: [6, 5], mode: .bilinear).scalars(as: Float.self).allSatisfy {
                Swift.abs($0 - 7) < 1e-5
            })
        let video = try Tensor.full([1, 1, 2, 3, 3], 2)
        #expect(try video.interpolate(size: [4, 6, 6], mode: .trilinear).shape == [1, 1, 4, 6, 6])
        #expect(throws: TorchError.self) { try x.interpolate(size: [2, 2, 2], mode: .trilinear) }
    }

    @Test("attention with a causal mask: the first query sees only the first key")
    func maskedAttention() throws {
        let g = Generator(seed: 5)
        let q = try Tensor.randn([1, 4, 8], generator: g)
        let k = try Tensor.randn([1, 4, 8], generator: g)
        let v = try Tensor.randn([1, 4, 8], generator: g)
        let causal = try Tensor.ones([4, 4], dtype: .bool).lowerTriangle()
        let out = try attention(query: q, key: k, value: v, mask: causal)
        let first = try (out.select(dim: 1, 0) - v.select(dim: 1, 0)).abs().max().item()
        #expect(first < 1e-6)
        let unmasked = try attention(query: q, key: k, value: v)
        #expect(try (unmasked.select(dim: 1, 0) - v.select(dim: 1, 0)).abs().max().item() > 1e-3)
    }

    final class Block: Module {
        let norm: LayerNorm
        let proj: Linear
        init(_ g: Generator) throws {
            norm = try LayerNorm(8)
            proj = try Linear(8, 8, generator: g)
        }
    }

    final class Model: Module {
        let embed: Embedding
        let blocks: [Block]
        let head: Linear
        let extra: Tensor?
        init(_ g: Generator) throws {
            embed = try Embedding(10, 8, generator: g)
            blocks = try [Block(g), Block(g)]
            head = try Linear(8, 2, bias: false, generator: g)
            extra = nil
        }
    }

    @Test("modules name nested parameters like PyTorch state dicts, and load checks names and shapes")
    func moduleNames() throws {
        let model = try Model(Generator(seed: 0))
        let names = model.namedParameters().map(\.name)
        #expect(
            names == [
                "embed.weight", "blocks.0.norm.weight", "blocks.0.norm.bias", "blocks.0.proj.weight",
                "blocks.0.proj.bias", "blocks.1.norm.weight", "blocks.1.norm.bias", "blocks.1.proj.weight",
                "blocks.1.proj.bias", "head.weight",
            ])
        #expect(model.parameterCount == 80 + 2 * (8 + 8 + 64 + 8) + 16)

        let other = try Model(Generator(seed: 1))
        var state = Dictionary(uniqueKeysWithValues: other.namedParameters().map { ($0.name, $0.tensor) })
        try model.load(state)
        #expect(try model.head.weight.scalars(as: Float.self) == other.head.weight.scalars(as: Float.self))
        state["head.weight"] = try Tensor.zeros([3, 8])
        #expect(throws: TorchError.self) { try model.load(state) }
        state["head.weight"] = try Tensor.zeros([2, 8])
        state["stray"] = try Tensor.zeros([1])
        #expect(throws: TorchError.self) { try model.load(state) }
    }

    @Test("gradients reach every parameter of a small network")
    func gradientsFlow() throws {
        let g = Generator(seed: 2)
        let conv = try Conv3d(3, 4, generator: g)
        let norm = try GroupNorm(groups: 2, channels: 4)
        let x = try Tensor.randn([1, 3, 5, 8, 8], generator: g)
        let loss = try norm(conv(x)).silu().pow(2).mean()
        try loss.backward()
        for tensor in conv.parameters() + norm.parameters() {
            #expect(try tensor.grad.map { try $0.abs().sum().item() > 0 } == true)
        }
    }
}

@Suite("oneDNN convolution path")
struct OneDNNTests {
    @Test(
        "convolutions through oneDNN equal LibTorch's generic conv2d/conv3d, forward and backward",
        arguments: [
            ([1, 3, 19, 34, 34], [16, 3, 3, 3, 3], [1, 1, 1]), ([1, 16, 9, 18, 18], [16, 16, 3, 3, 3], [2, 2, 2]),
            ([1, 8, 20, 20], [4, 8, 3, 3], [2, 2]),
        ])
    func sameAsGeneric(input: [Int], kernel: [Int], stride: [Int]) throws {
        try #require(Tensor.useOneDNN, "this LibTorch has oneDNN")
        let g = Generator(seed: 4)
        let x = try Tensor.randn(input, generator: g).requiringGrad()
        let w = try Tensor.randn(kernel, generator: g).requiringGrad()
        let generic = input.count == 5 ? ATen.conv3d : ATen.conv2d
        let reference = try generic.tensor([.tensor(x), .tensor(w), .none, .ints(stride)])
        let fast = input.count == 5 ? try x.conv3d(weight: w, stride: stride) : try x.conv2d(weight: w, stride: stride)
        #expect(fast.shape == reference.shape)
        let scale = try reference.abs().max().item()
        #expect(try (fast - reference).abs().max().item() < 1e-5 * scale)
        try fast.sum().backward()
        let gradFast = try #require(w.grad).cloned()
        w.zeroGrad()
        try reference.sum().backward()
        let gradReference = try #require(w.grad)
        #expect(try (gradFast - gradReference).abs().max().item() < 1e-4 * gradReference.abs().max().item())
    }
}
