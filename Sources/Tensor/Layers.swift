// The basic layers. Shapes: N batch, C channels, T time, H height, W width, L tokens, D features.

/// y = x Wᵀ + b. x: [..., in] → [..., out].
public final class Linear: Module {
    public let weight: Tensor  // [out, in]
    public let bias: Tensor?  // [out]

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, generator: Generator) throws {
        weight = try Initializer.uniformFanIn([outFeatures, inFeatures], fanIn: inFeatures, generator: generator)
        self.bias = bias ? try Initializer.uniformFanIn([outFeatures], fanIn: inFeatures, generator: generator) : nil
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        let y = try x.linear(weight: weight, bias: bias)
        FLOPCounter.add(2 * Double(y.count) * Double(weight.shape[1]))
        return y
    }
}

/// 2-D convolution with "same" padding for odd kernels. x: [N, C, H, W].
public final class Conv2d: Module {
    public let weight: Tensor  // [out, in, k, k]
    public let bias: Tensor?
    public let stride: Int
    public let padding: Int

    public init(
        _ inChannels: Int, _ outChannels: Int, kernel: Int = 3, stride: Int = 1, padding: Int? = nil,
        bias: Bool = true, generator: Generator
    ) throws {
        let fanIn = inChannels * kernel * kernel
        weight = try Initializer.uniformFanIn(
            [outChannels, inChannels, kernel, kernel], fanIn: fanIn, generator: generator)
        self.bias = bias ? try Initializer.uniformFanIn([outChannels], fanIn: fanIn, generator: generator) : nil
        self.stride = stride
        self.padding = padding ?? kernel / 2
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try x.conv2d(weight: weight, bias: bias, stride: [stride, stride], padding: [padding, padding])
    }
}

/// 3-D convolution over [N, C, T, H, W]. With `causal` (the default), time is padded at
/// the front only, so output frame t depends on input frames ≤ t: a video can then be
/// encoded chunk by chunk, each chunk given the previous chunk's last frames as context.
public final class Conv3d: Module {
    public let weight: Tensor  // [out, in, kT, kH, kW]
    public let bias: Tensor?
    public let kernel: (time: Int, space: Int)
    public let stride: (time: Int, space: Int)
    public let causal: Bool

    public init(
        _ inChannels: Int, _ outChannels: Int, kernel: (time: Int, space: Int) = (3, 3),
        stride: (time: Int, space: Int) = (1, 1), causal: Bool = true, bias: Bool = true,
        generator: Generator
    ) throws {
        let fanIn = inChannels * kernel.time * kernel.space * kernel.space
        weight = try Initializer.uniformFanIn(
            [outChannels, inChannels, kernel.time, kernel.space, kernel.space],
            fanIn: fanIn, generator: generator)
        self.bias = bias ? try Initializer.uniformFanIn([outChannels], fanIn: fanIn, generator: generator) : nil
        self.kernel = kernel
        self.stride = stride
        self.causal = causal
    }

    /// Input frames before the first one that a causal output needs: kT − 1.
    public var temporalContext: Int { kernel.time - 1 }

    /// x: [N, C, T, H, W]. With a `cache`, the frames this layer has already seen in earlier
    /// calls stand in for the zero padding, so feeding a video chunk by chunk gives exactly
    /// the output of feeding it whole (chunks must keep the temporal stride's phase).
    public func callAsFunction(_ x: Tensor, cache: CausalCache? = nil) throws -> Tensor {
        let p = kernel.space / 2
        let strides = [stride.time, stride.space, stride.space]
        guard causal else {
            return try x.conv3d(weight: weight, bias: bias, stride: strides, padding: [kernel.time / 2, p, p])
        }
        // F.pad order: (W before, W after, H before, H after, T before, T after).
        let input: Tensor
        if let cache, let tail = cache.tails[ObjectIdentifier(self)] {
            input = try Tensor.cat([tail, x.padded([p, p, p, p])], dim: 2)
        } else {
            input = try x.padded([p, p, p, p, kernel.time - 1, 0])
        }
        let output = try input.conv3d(weight: weight, bias: bias, stride: strides)
        FLOPCounter.add(2 * Double(output.count) * Double(weight.count / weight.shape[0]))
        if let cache {
            // Keep the frames the next window starts in: everything from the first unused window start.
            let length = input.shape[2]
            let windows = output.shape[2]
            let next = windows * stride.time
            cache.tails[ObjectIdentifier(self)] = try input.slice(dim: 2, Swift.min(next, length)..<length)
        }
        return output
    }
}

/// The frames causal layers keep between chunks of one video (see `Conv3d`).
public final class CausalCache {
    var tails: [ObjectIdentifier: Tensor] = [:]
    public init() {}
}

/// Group normalisation over [N, C, …] with a learned per-channel scale and shift.
public final class GroupNorm: Module {
    public let weight: Tensor
    public let bias: Tensor
    public let groups: Int
    public let eps: Double

    public init(groups: Int, channels: Int, eps: Double = 1e-6) throws {
        precondition(channels % groups == 0, "GroupNorm: \(channels) channels do not split into \(groups) groups")
        weight = try Initializer.constant([channels], 1)
        bias = try Initializer.constant([channels], 0)
        self.groups = groups
        self.eps = eps
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try x.groupNorm(groups: groups, weight: weight, bias: bias, eps: eps)
    }
}

/// Layer normalisation over the last dimension.
public final class LayerNorm: Module {
    public let weight: Tensor
    public let bias: Tensor?
    public let eps: Double

    public init(_ features: Int, bias: Bool = true, eps: Double = 1e-5) throws {
        weight = try Initializer.constant([features], 1)
        self.bias = bias ? try Initializer.constant([features], 0) : nil
        self.eps = eps
    }

    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        try x.layerNorm([weight.shape[0]], weight: weight, bias: bias, eps: eps)
    }
}

/// A lookup table of learned vectors. indices [...] (int64) → [..., D].
public final class Embedding: Module {
    public let weight: Tensor  // [count, D]

    public init(_ count: Int, _ dimension: Int, generator: Generator) throws {
        weight = try Initializer.normal([count, dimension], std: 0.02, generator: generator)
    }

    public func callAsFunction(_ indices: Tensor) throws -> Tensor { try weight.embedding(indices) }
}
