// Elementwise arithmetic, math and reductions.

extension Tensor {
    // MARK: Creation

    public static func zeros(_ shape: [Int], dtype: DType = .float32, device: Device = .cpu) throws -> Tensor {
        try ATen.zeros.tensor([.ints(shape)], ["dtype": .int(Int(dtype.rawValue)), "device": .string(device.name)])
    }

    public static func ones(_ shape: [Int], dtype: DType = .float32, device: Device = .cpu) throws -> Tensor {
        try ATen.ones.tensor([.ints(shape)], ["dtype": .int(Int(dtype.rawValue)), "device": .string(device.name)])
    }

    public static func full(_ shape: [Int], _ value: Double, dtype: DType = .float32, device: Device = .cpu) throws
        -> Tensor
    {
        try ATen.full.tensor(
            [.ints(shape), .double(value)], ["dtype": .int(Int(dtype.rawValue)), "device": .string(device.name)])
    }

    /// start, start + step, … below end.
    public static func arange(_ start: Double, _ end: Double, step: Double = 1, dtype: DType = .float32) throws
        -> Tensor
    {
        try ATen.arange.tensor([.double(start), .double(end), .double(step)], ["dtype": .int(Int(dtype.rawValue))])
    }

    /// Standard normal samples.
    public static func randn(_ shape: [Int], generator: Generator, dtype: DType = .float32) throws -> Tensor {
        try ATen.randn.tensor([.ints(shape), .generator(generator)], ["dtype": .int(Int(dtype.rawValue))])
    }

    /// Uniform samples in [0, 1).
    public static func rand(_ shape: [Int], generator: Generator, dtype: DType = .float32) throws -> Tensor {
        try ATen.rand.tensor([.ints(shape), .generator(generator)], ["dtype": .int(Int(dtype.rawValue))])
    }

    /// Integers in [low, high).
    public static func randint(_ low: Int, _ high: Int, _ shape: [Int], generator: Generator) throws -> Tensor {
        try ATen.randint.tensor(
            [.int(low), .int(high), .ints(shape), .generator(generator)], ["dtype": .int(Int(DType.int64.rawValue))])
    }

    /// A random permutation of 0..<n.
    public static func randperm(_ n: Int, generator: Generator) throws -> Tensor {
        try ATen.randperm.tensor([.int(n), .generator(generator)], ["dtype": .int(Int(DType.int64.rawValue))])
    }

    /// Ones with probability `p`, zeros otherwise, shaped like `self`.
    public func bernoulli(_ p: Double, generator: Generator) throws -> Tensor {
        try ATen.bernoulli.tensor([.tensor(self), .double(p), .generator(generator)])
    }

    /// Ones with each element's own probability (`self` holds probabilities in [0, 1]): how a
    /// sampler draws every bit of a token from its sigmoid at once, reproducibly.
    public func bernoulli(generator: Generator) throws -> Tensor {
        try ATen.bernoulliTensor.tensor([.tensor(self), .generator(generator)])
    }

    /// Indices drawn from each row's (unnormalised, non-negative) weights: [rows, n] → [rows, count], int64.
    public func multinomial(_ count: Int, replacement: Bool = false, generator: Generator) throws -> Tensor {
        try ATen.multinomial.tensor([.tensor(self), .int(count), .bool(replacement), .generator(generator)])
    }

    // MARK: Arithmetic

    public static func + (a: Tensor, b: Tensor) throws -> Tensor { try ATen.add.tensor([.tensor(a), .tensor(b)]) }
    public static func - (a: Tensor, b: Tensor) throws -> Tensor { try ATen.sub.tensor([.tensor(a), .tensor(b)]) }
    public static func * (a: Tensor, b: Tensor) throws -> Tensor { try ATen.mul.tensor([.tensor(a), .tensor(b)]) }
    public static func / (a: Tensor, b: Tensor) throws -> Tensor { try ATen.div.tensor([.tensor(a), .tensor(b)]) }
    public static func + (a: Tensor, b: Double) throws -> Tensor {
        try ATen.addScalar.tensor([.tensor(a), .double(b)])
    }
    public static func - (a: Tensor, b: Double) throws -> Tensor {
        try ATen.subScalar.tensor([.tensor(a), .double(b)])
    }
    public static func * (a: Tensor, b: Double) throws -> Tensor {
        try ATen.mulScalar.tensor([.tensor(a), .double(b)])
    }
    public static func / (a: Tensor, b: Double) throws -> Tensor {
        try ATen.divScalar.tensor([.tensor(a), .double(b)])
    }
    public static func + (a: Double, b: Tensor) throws -> Tensor { try b + a }
    public static func * (a: Double, b: Tensor) throws -> Tensor { try b * a }
    public static func - (a: Double, b: Tensor) throws -> Tensor {
        try ATen.rsubScalar.tensor([.tensor(b), .double(a)])
    }
    public static prefix func - (a: Tensor) throws -> Tensor { try ATen.neg.tensor([.tensor(a)]) }

    public func pow(_ exponent: Double) throws -> Tensor {
        try ATen.powScalar.tensor([.tensor(self), .double(exponent)])
    }
    public func sqrt() throws -> Tensor { try ATen.sqrt.tensor([.tensor(self)]) }
    public func rsqrt() throws -> Tensor { try ATen.rsqrt.tensor([.tensor(self)]) }
    public func exp() throws -> Tensor { try ATen.exp.tensor([.tensor(self)]) }
    public func log() throws -> Tensor { try ATen.log.tensor([.tensor(self)]) }
    public func abs() throws -> Tensor { try ATen.abs.tensor([.tensor(self)]) }
    /// −1, 0 or 1 per element.
    public func sign() throws -> Tensor { try ATen.sign.tensor([.tensor(self)]) }
    public func rounded() throws -> Tensor { try ATen.round.tensor([.tensor(self)]) }
    public func floor() throws -> Tensor { try ATen.floor.tensor([.tensor(self)]) }
    public func sin() throws -> Tensor { try ATen.sin.tensor([.tensor(self)]) }
    public func cos() throws -> Tensor { try ATen.cos.tensor([.tensor(self)]) }
    public func clamp(min: Double? = nil, max: Double? = nil) throws -> Tensor {
        try ATen.clamp.tensor([.tensor(self), min.map { .double($0) } ?? .none, max.map { .double($0) } ?? .none])
    }

    // MARK: Activations

    public func sigmoid() throws -> Tensor { try ATen.sigmoid.tensor([.tensor(self)]) }
    public func tanh() throws -> Tensor { try ATen.tanh.tensor([.tensor(self)]) }
    public func relu() throws -> Tensor { try ATen.relu.tensor([.tensor(self)]) }
    public func silu() throws -> Tensor { try ATen.silu.tensor([.tensor(self)]) }
    /// GELU; `tanhApproximation` uses the tanh formula GPT-2 used.
    public func gelu(tanhApproximation: Bool = false) throws -> Tensor {
        try ATen.gelu.tensor([.tensor(self)], ["approximate": .string(tanhApproximation ? "tanh" : "none")])
    }
    public func softmax(dim: Int) throws -> Tensor { try ATen.softmax.tensor([.tensor(self), .int(dim), .none]) }
    public func logSoftmax(dim: Int) throws -> Tensor { try ATen.logSoftmax.tensor([.tensor(self), .int(dim), .none]) }

    // MARK: Comparisons and selection

    public func greater(_ value: Double) throws -> Tensor { try ATen.gtScalar.tensor([.tensor(self), .double(value)]) }
    public func less(_ value: Double) throws -> Tensor { try ATen.ltScalar.tensor([.tensor(self), .double(value)]) }
    public func greaterOrEqual(_ value: Double) throws -> Tensor {
        try ATen.geScalar.tensor([.tensor(self), .double(value)])
    }
    public func equal(_ value: Double) throws -> Tensor { try ATen.eqScalar.tensor([.tensor(self), .double(value)]) }
    public func equal(_ other: Tensor) throws -> Tensor { try ATen.eq.tensor([.tensor(self), .tensor(other)]) }
    public func logicalNot() throws -> Tensor { try ATen.logicalNot.tensor([.tensor(self)]) }
    /// `condition ? other : self`, elementwise: `other` replaces the elements where `condition` holds.
    public func replacing(where condition: Tensor, with other: Tensor) throws -> Tensor {
        try ATen.whereSelf.tensor([.tensor(condition), .tensor(other), .tensor(self)])
    }
    /// Sets elements where `mask` is true to `value`.
    public func maskedFill(_ mask: Tensor, _ value: Double) throws -> Tensor {
        try ATen.maskedFill.tensor([.tensor(self), .tensor(mask), .double(value)])
    }

    // MARK: Reductions

    public func sum() throws -> Tensor { try ATen.sumAll.tensor([.tensor(self)]) }
    public func sum(dims: [Int], keepDim: Bool = false) throws -> Tensor {
        try ATen.sumDim.tensor([.tensor(self), .ints(dims), .bool(keepDim)])
    }
    public func mean() throws -> Tensor { try ATen.meanAll.tensor([.tensor(self)]) }
    public func mean(dims: [Int], keepDim: Bool = false) throws -> Tensor {
        try ATen.meanDim.tensor([.tensor(self), .ints(dims), .bool(keepDim)])
    }
    public func max(dims: [Int], keepDim: Bool = false) throws -> Tensor {
        try ATen.amax.tensor([.tensor(self), .ints(dims), .bool(keepDim)])
    }
    public func min(dims: [Int], keepDim: Bool = false) throws -> Tensor {
        try ATen.amin.tensor([.tensor(self), .ints(dims), .bool(keepDim)])
    }
    public func max() throws -> Tensor { try ATen.amax.tensor([.tensor(self), .ints([])]) }
    public func min() throws -> Tensor { try ATen.amin.tensor([.tensor(self), .ints([])]) }
    public func argmax(dim: Int, keepDim: Bool = false) throws -> Tensor {
        try ATen.argmax.tensor([.tensor(self), .int(dim), .bool(keepDim)])
    }
    /// Variance (biased unless `unbiased`).
    public func variance(dims: [Int], unbiased: Bool = false, keepDim: Bool = false) throws -> Tensor {
        try ATen.varDim.tensor([.tensor(self), .ints(dims), .bool(unbiased), .bool(keepDim)])
    }
    /// The p-norm over `dims`.
    public func norm(_ p: Double = 2, dims: [Int], keepDim: Bool = false) throws -> Tensor {
        try ATen.vectorNorm.tensor([.tensor(self), .double(p), .ints(dims), .bool(keepDim)])
    }

    // MARK: In place (no autograd history for leaves under `withoutGrad`)

    /// self += other × alpha
    public func add_(_ other: Tensor, alpha: Double = 1) throws {
        _ = try ATen.addInPlace.call([.tensor(self), .tensor(other)], ["alpha": .double(alpha)])
    }
    public func mul_(_ value: Double) throws { _ = try ATen.mulInPlaceScalar.call([.tensor(self), .double(value)]) }
    public func copy_(_ source: Tensor) throws { _ = try ATen.copyInPlace.call([.tensor(self), .tensor(source)]) }
    public func zero_() throws { _ = try ATen.zeroInPlace.call([.tensor(self)]) }
    public func fill_(_ value: Double) throws { _ = try ATen.fillInPlace.call([.tensor(self), .double(value)]) }
    /// Fills with uniform samples in [low, high).
    public func uniform_(_ low: Double, _ high: Double, generator: Generator) throws {
        _ = try ATen.uniformInPlace.call([.tensor(self), .double(low), .double(high), .generator(generator)])
    }
    /// Fills with normal samples.
    public func normal_(mean: Double = 0, std: Double = 1, generator: Generator) throws {
        _ = try ATen.normalInPlace.call([.tensor(self), .double(mean), .double(std), .generator(generator)])
    }
}
