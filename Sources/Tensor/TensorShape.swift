// Shapes, indexing, joining and conversion.

extension Tensor {
    public func reshaped(_ shape: [Int]) throws -> Tensor { try ATen.reshape.tensor([.tensor(self), .ints(shape)]) }
    public func permuted(_ dims: [Int]) throws -> Tensor { try ATen.permute.tensor([.tensor(self), .ints(dims)]) }
    public func transposed(_ a: Int, _ b: Int) throws -> Tensor {
        try ATen.transpose.tensor([.tensor(self), .int(a), .int(b)])
    }
    public func squeezed(dim: Int) throws -> Tensor { try ATen.squeezeDim.tensor([.tensor(self), .int(dim)]) }
    public func unsqueezed(dim: Int) throws -> Tensor { try ATen.unsqueeze.tensor([.tensor(self), .int(dim)]) }
    /// Broadcasts size-1 dimensions to `shape` (−1 keeps a size) without copying.
    public func expanded(to shape: [Int]) throws -> Tensor { try ATen.expand.tensor([.tensor(self), .ints(shape)]) }
    public func repeated(_ counts: [Int]) throws -> Tensor { try ATen.repeatOp.tensor([.tensor(self), .ints(counts)]) }
    public func flattened(from start: Int = 0, to end: Int = -1) throws -> Tensor {
        try ATen.flatten.tensor([.tensor(self), .int(start), .int(end)])
    }
    public func contiguous() throws -> Tensor { try ATen.contiguous.tensor([.tensor(self)]) }
    public func flipped(dims: [Int]) throws -> Tensor { try ATen.flip.tensor([.tensor(self), .ints(dims)]) }
    /// Lower triangle (elements above diagonal `k` zeroed).
    public func lowerTriangle(_ k: Int = 0) throws -> Tensor { try ATen.tril.tensor([.tensor(self), .int(k)]) }

    /// Elements `range` along `dim` (a view).
    public func slice(dim: Int, _ range: Range<Int>, step: Int = 1) throws -> Tensor {
        try ATen.slice.tensor([.tensor(self), .int(dim), .int(range.lowerBound), .int(range.upperBound), .int(step)])
    }
    /// Index `index` of `dim`, removing that dimension.
    public func select(dim: Int, _ index: Int) throws -> Tensor {
        try ATen.select.tensor([.tensor(self), .int(dim), .int(index)])
    }
    public func indexSelect(dim: Int, _ indices: Tensor) throws -> Tensor {
        try ATen.indexSelect.tensor([.tensor(self), .int(dim), .tensor(indices)])
    }
    public func gather(dim: Int, _ indices: Tensor) throws -> Tensor {
        try ATen.gather.tensor([.tensor(self), .int(dim), .tensor(indices)])
    }

    /// Joins along an existing dimension.
    public static func cat(_ tensors: [Tensor], dim: Int) throws -> Tensor {
        try ATen.cat.tensor([.tensors(tensors), .int(dim)])
    }
    /// Joins along a new dimension.
    public static func stack(_ tensors: [Tensor], dim: Int) throws -> Tensor {
        try ATen.stack.tensor([.tensors(tensors), .int(dim)])
    }
    /// Splits into pieces of `size` along `dim` (the last may be smaller).
    public func split(size: Int, dim: Int) throws -> [Tensor] {
        guard case .tensors(let parts)? = try ATen.split.call([.tensor(self), .int(size), .int(dim)]).first else {
            throw TorchError(.operation, "split returned no list")
        }
        return parts
    }

    public func to(_ dtype: DType) throws -> Tensor {
        try ATen.toDType.tensor([.tensor(self), .int(Int(dtype.rawValue))])
    }
    public func to(_ device: Device) throws -> Tensor {
        try ATen.toDevice.tensor([.tensor(self), .string(device.name), .int(Int(dtype.rawValue))])
    }
    /// The same values, cut from the autograd graph.
    public func detached() throws -> Tensor { try ATen.detach.tensor([.tensor(self)]) }
    public func cloned() throws -> Tensor { try ATen.clone.tensor([.tensor(self)]) }
    /// Zero padding: `padding` lists (before, after) pairs from the last dimension backwards, as in PyTorch's F.pad.
    public func padded(_ padding: [Int], value: Double = 0) throws -> Tensor {
        try ATen.constantPad.tensor([.tensor(self), .ints(padding), .double(value)])
    }
}
