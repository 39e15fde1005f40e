// Neural-network building blocks as functions of tensors (PyTorch's torch.nn.functional).

/// How `interpolate` resamples.
public enum InterpolationMode: Sendable {
    /// Averages the input cells each output cell covers (PyTorch's "area"): anti-aliased shrinking.
    case area
    /// Bilinear over the last two dimensions (4-D input).
    case bilinear
    /// Trilinear over the last three dimensions (5-D input).
    case trilinear
    /// Nearest neighbour over the last two (4-D) or three (5-D) dimensions.
    case nearest
}

extension Tensor {
    public func matmul(_ other: Tensor) throws -> Tensor { try ATen.matmul.tensor([.tensor(self), .tensor(other)]) }

    /// x · weightᵀ + bias. weight: [out, in].
    public func linear(weight: Tensor, bias: Tensor? = nil) throws -> Tensor {
        try ATen.linear.tensor([.tensor(self), .tensor(weight), bias.map { .tensor($0) } ?? .none])
    }

    /// input [N, C, H, W], weight [O, C/groups, kH, kW].
    public func conv2d(
        weight: Tensor, bias: Tensor? = nil, stride: [Int] = [1, 1], padding: [Int] = [0, 0],
        dilation: [Int] = [1, 1], groups: Int = 1
    ) throws -> Tensor {
        if let fast = try oneDNNConvolution(
            weight: weight, bias: bias, stride: stride, padding: padding,
            dilation: dilation, groups: groups)
        {
            return fast
        }
        return try ATen.conv2d.tensor([
            .tensor(self), .tensor(weight), bias.map { .tensor($0) } ?? .none,
            .ints(stride), .ints(padding), .ints(dilation), .int(groups),
        ])
    }

    /// input [N, C, T, H, W], weight [O, C/groups, kT, kH, kW].
    public func conv3d(
        weight: Tensor, bias: Tensor? = nil, stride: [Int] = [1, 1, 1], padding: [Int] = [0, 0, 0],
        dilation: [Int] = [1, 1, 1], groups: Int = 1
    ) throws -> Tensor {
        if let fast = try oneDNNConvolution(
            weight: weight, bias: bias, stride: stride, padding: padding,
            dilation: dilation, groups: groups)
        {
            return fast
        }
        return try ATen.conv3d.tensor([
            .tensor(self), .tensor(weight), bias.map { .tensor($0) } ?? .none,
            .ints(stride), .ints(padding), .ints(dilation), .int(groups),
        ])
    }

    /// LibTorch's oneDNN convolution for CPU float32, called directly. LibTorch 1.13's own
    /// choice sends batch-1 3-D convolutions with N·C·T·H ≤ 20480 (our input layer and every
    /// low-resolution level) to `slow_conv3d`, measured here up to 9× slower for the same
    /// result (e.g. 16→32 channels at 17×64×64: 69.6 ms vs 9.3 ms). It has a backward, so
    /// training uses it too. Nil when it does not apply (other dtypes or devices, no oneDNN).
    private func oneDNNConvolution(
        weight: Tensor, bias: Tensor?, stride: [Int], padding: [Int],
        dilation: [Int], groups: Int
    ) throws -> Tensor? {
        guard Tensor.useOneDNN, dtype == .float32, weight.dtype == .float32, isOnCPU else { return nil }
        return try ATen.mkldnnConvolution.tensor([
            .tensor(self), .tensor(weight), bias.map { .tensor($0) } ?? .none,
            .ints(padding), .ints(stride), .ints(dilation), .int(groups),
        ])
    }

    /// Whether convolutions call oneDNN directly when they can (on by default when this LibTorch has it).
    nonisolated(unsafe) public static var useOneDNN: Bool = ATen.mkldnnConvolution.isAvailable

    /// input [N, C, T, H, W], weight [C, O/groups, kT, kH, kW].
    public func convTranspose3d(
        weight: Tensor, bias: Tensor? = nil, stride: [Int] = [1, 1, 1], padding: [Int] = [0, 0, 0],
        outputPadding: [Int] = [0, 0, 0], groups: Int = 1, dilation: [Int] = [1, 1, 1]
    ) throws -> Tensor {
        try ATen.convTranspose3d.tensor([
            .tensor(self), .tensor(weight), bias.map { .tensor($0) } ?? .none,
            .ints(stride), .ints(padding), .ints(outputPadding), .int(groups), .ints(dilation),
        ])
    }

    /// Group normalisation over channel groups of [N, C, …].
    public func groupNorm(groups: Int, weight: Tensor?, bias: Tensor?, eps: Double = 1e-6) throws -> Tensor {
        try ATen.groupNorm.tensor([
            .tensor(self), .int(groups), weight.map { .tensor($0) } ?? .none,
            bias.map { .tensor($0) } ?? .none, .double(eps),
        ])
    }

    /// Layer normalisation over the trailing `normalizedShape`.
    public func layerNorm(_ normalizedShape: [Int], weight: Tensor?, bias: Tensor?, eps: Double = 1e-5) throws -> Tensor
    {
        try ATen.layerNorm.tensor([
            .tensor(self), .ints(normalizedShape), weight.map { .tensor($0) } ?? .none,
            bias.map { .tensor($0) } ?? .none, .double(eps),
        ])
    }

    /// RMS normalisation over the last dimension: x / √(mean(x²) + eps) · weight.
    public func rmsNorm(weight: Tensor?, eps: Double = 1e-6) throws -> Tensor {
        let normalised = try self * (self * self).mean(dims: [-1], keepDim: true).add(eps).rsqrt()
        return try weight.map { try normalised * $0 } ?? normalised
    }

    /// self + value (a named form for chaining).
    public func add(_ value: Double) throws -> Tensor { try self + value }

    /// Resamples the spatial (4-D) or spatio-temporal (5-D) dimensions to `size`.
    public func interpolate(size: [Int], mode: InterpolationMode, alignCorners: Bool = false) throws -> Tensor {
        switch (mode, rank) {
        case (.area, 4): return try ATen.adaptiveAvgPool2d.tensor([.tensor(self), .ints(size)])
        case (.area, 5): return try ATen.adaptiveAvgPool3d.tensor([.tensor(self), .ints(size)])
        case (.bilinear, 4):
            return try ATen.upsampleBilinear2d.tensor([.tensor(self), .ints(size), .bool(alignCorners), .none])
        case (.trilinear, 5):
            return try ATen.upsampleTrilinear3d.tensor([.tensor(self), .ints(size), .bool(alignCorners), .none])
        case (.nearest, 4): return try ATen.upsampleNearest2d.tensor([.tensor(self), .ints(size), .none])
        case (.nearest, 5): return try ATen.upsampleNearest3d.tensor([.tensor(self), .ints(size), .none])
        default:
            throw TorchError(
                .operation, "interpolate: \(mode) needs a \(mode == .trilinear ? 5 : 4)-D input, got shape \(shape)")
        }
    }

    /// Mean over `kernel`×`kernel` windows of [N, C, H, W]; with `countPadding` false the
    /// windows at the border average only the pixels they cover.
    public func avgPool2d(kernel: Int, stride: Int = 1, padding: Int = 0, countPadding: Bool = true) throws -> Tensor {
        try ATen.avgPool2d.tensor([
            .tensor(self), .ints([kernel, kernel]), .ints([stride, stride]), .ints([padding, padding]),
            .bool(false), .bool(countPadding), .none,
        ])
    }

    /// max(x, slope·x): the discriminator's activation.
    public func leakyRelu(_ slope: Double = 0.2) throws -> Tensor {
        try ATen.leakyRelu.tensor([.tensor(self), .double(slope)])
    }

    /// Rows of `self` ([vocab, dim]) picked by integer `indices`.
    public func embedding(_ indices: Tensor) throws -> Tensor {
        try ATen.embedding.tensor([.tensor(self), .tensor(indices)])
    }

    /// Zeroes elements with probability `p` (and rescales) when `training`.
    public func dropout(_ p: Double, training: Bool) throws -> Tensor {
        guard training, p > 0 else { return self }
        return try ATen.dropout.tensor([.tensor(self), .double(p), .bool(true)])
    }
}

/// Scaled dot-product attention. q: [..., Lq, D], k, v: [..., Lk, D]; `mask` is true where a
/// query may attend, `bias` is added to the scores (0 or −∞ for a block-causal mask, built once
/// per layout and shared by every layer); both broadcast to [..., Lq, Lk]. Composed from
/// matmul and softmax: the fused kernel arrived in LibTorch 2.0, after Debian's 1.13.
///
/// The score matrix is formed `chunkBytes` at a time over the leading dimension: glibc serves
/// blocks over 32 MB with fresh mmap'd pages, and zero-filling them cost a third of a training
/// step (`videoar bench train`: 2.7 M page faults and 4.8 s/step whole, 0.8 M and 3.3 s chunked);
/// smaller blocks are reused from the heap.
public func attention(
    query: Tensor, key: Tensor, value: Tensor, mask: Tensor? = nil, bias: Tensor? = nil,
    chunkBytes: Int = 16 << 20
) throws -> Tensor {
    let qs = query.shape, ks = key.shape
    let rows = qs.count > 2 ? qs[0] : 1
    let perRow = qs.dropFirst(qs.count > 2 ? 1 : 0).dropLast().reduce(1, *) * ks[ks.count - 2] * 4
    let step = max(1, chunkBytes / max(perRow, 1))
    guard qs.count > 2, rows > step else {
        return try attentionScores(query: query, key: key, value: value, mask: mask, bias: bias)
    }
    func part(_ t: Tensor?, _ range: Range<Int>) throws -> Tensor? {
        guard let t else { return nil }
        // Masks and biases broadcast: slice only those that carry the leading dimension.
        return t.rank == qs.count && t.shape[0] == rows ? try t.slice(dim: 0, range) : t
    }
    var pieces: [Tensor] = []
    for start in stride(from: 0, to: rows, by: step) {
        let range = start..<min(start + step, rows)
        pieces.append(
            try attentionScores(
                query: query.slice(dim: 0, range), key: key.slice(dim: 0, range), value: value.slice(dim: 0, range),
                mask: part(mask, range), bias: part(bias, range)))
    }
    return try Tensor.cat(pieces, dim: 0)
}

private func attentionScores(query: Tensor, key: Tensor, value: Tensor, mask: Tensor?, bias: Tensor?) throws -> Tensor {
    let d = Double(query.shape.last ?? 1)
    // Scaling the queries (L × D) is cheaper than scaling the scores (L × L).
    var scores = try (query * (1 / d.squareRoot())).matmul(key.transposed(-2, -1))
    if let bias { scores = try scores + bias }
    if let mask { scores = try scores.maskedFill(mask.logicalNot(), -Double.infinity) }
    return try scores.softmax(dim: -1).matmul(value)
}

/// Scales the gradients of `parameters` so that their joint L2 norm is at most `maxNorm`
/// (PyTorch's `clip_grad_norm_`); returns the norm before clipping, which is worth logging.
@discardableResult
public func clipGradientNorm(_ parameters: [Tensor], maxNorm: Double) throws -> Double {
    var squares = 0.0
    let gradients = parameters.compactMap(\.grad)
    for gradient in gradients { squares += try (gradient * gradient).sum().item() }
    let norm = squares.squareRoot()
    if norm > maxNorm {
        let scale = maxNorm / (norm + 1e-6)
        try withoutGrad { for gradient in gradients { try gradient.mul_(scale) } }
    }
    return norm
}

/// Losses, averaged over elements.
public enum Loss {
    public static func l1(_ prediction: Tensor, _ target: Tensor) throws -> Tensor {
        try ATen.l1Loss.tensor([.tensor(prediction), .tensor(target)])
    }
    public static func mse(_ prediction: Tensor, _ target: Tensor) throws -> Tensor {
        try ATen.mseLoss.tensor([.tensor(prediction), .tensor(target)])
    }
    /// Binary cross-entropy on logits (targets in [0, 1]).
    public static func binaryCrossEntropy(logits: Tensor, targets: Tensor) throws -> Tensor {
        try ATen.bceWithLogits.tensor([.tensor(logits), .tensor(targets)])
    }
    /// Cross-entropy of logits [N, C] against class indices [N].
    public static func crossEntropy(logits: Tensor, targets: Tensor) throws -> Tensor {
        try ATen.crossEntropy.tensor([.tensor(logits), .tensor(targets)])
    }
}
