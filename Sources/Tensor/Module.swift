/// A model part with named, nested parameters.
///
/// Parameters are found by reflection, so a module is just a class with stored
/// properties: every `Tensor` is a parameter named by its property ("weight"), every
/// `Module` a child ("attention.proj.weight"), arrays index their elements
/// ("blocks.3.norm.weight"), and optionals count when present. This gives the same
/// names PyTorch's state dicts use, so checkpoints line up across the two.
public protocol Module: AnyObject {}

extension Module {
    /// Every parameter with its dotted name, in declaration order.
    public func namedParameters() -> [(name: String, tensor: Tensor)] {
        var result: [(String, Tensor)] = []
        collect(self, prefix: "", into: &result)
        return result
    }

    /// Every parameter, in declaration order (what an optimiser takes).
    public func parameters() -> [Tensor] { namedParameters().map(\.tensor) }

    /// Turns gradients on (training) or off (inference, or a frozen part of a training step).
    public func setTrainable(_ trainable: Bool) {
        for parameter in parameters() { parameter.requiresGrad = trainable }
    }

    /// Total number of parameter elements.
    public var parameterCount: Int { parameters().reduce(0) { $0 + $1.count } }

    /// Copies `values` into the parameters of the same names. Every parameter must be
    /// present with the same shape, and no unknown name may be left over.
    public func load(_ values: [String: Tensor]) throws {
        let named = namedParameters()
        let known = Set(named.map(\.name))
        if let unknown = values.keys.filter({ !known.contains($0) }).sorted().first {
            throw TorchError(.format, "'\(unknown)' is not a parameter of \(type(of: self))")
        }
        try withoutGrad {
            for (name, parameter) in named {
                guard let value = values[name] else {
                    throw TorchError(.format, "missing parameter '\(name)' for \(type(of: self))")
                }
                guard value.shape == parameter.shape else {
                    throw TorchError(
                        .format, "parameter '\(name)' has shape \(value.shape), the model expects \(parameter.shape)")
                }
                try parameter.copy_(value)
            }
        }
    }
}

private func collect(_ value: Any, prefix: String, into result: inout [(String, Tensor)]) {
    func name(_ label: String) -> String { prefix.isEmpty ? label : "\(prefix).\(label)" }
    if let tensor = value as? Tensor {
        result.append((prefix, tensor))
        return
    }
    let mirror = Mirror(reflecting: value)
    switch mirror.displayStyle {
    case .optional:
        if let wrapped = mirror.children.first { collect(wrapped.value, prefix: prefix, into: &result) }
    case .collection:
        for (index, child) in mirror.children.enumerated() {
            collect(child.value, prefix: name(String(index)), into: &result)
        }
    case .class:
        guard value is Module else { return }
        var mirrors: [Mirror] = []
        var current: Mirror? = mirror
        while let m = current {
            mirrors.insert(m, at: 0)
            current = m.superclassMirror
        }
        for m in mirrors {
            for child in m.children {
                guard let label = child.label, !label.hasPrefix("_") else { continue }
                collect(child.value, prefix: name(label), into: &result)
            }
        }
    default:
        return
    }
}

// MARK: - Initialisation

/// Parameter initialisation with explicit, reproducible randomness.
public enum Initializer {
    /// Uniform in ±1/√fanIn: PyTorch's default for linear and convolution layers.
    public static func uniformFanIn(_ shape: [Int], fanIn: Int, generator: Generator) throws -> Tensor {
        let bound = 1 / Double(max(fanIn, 1)).squareRoot()
        let t = try Tensor.zeros(shape)
        try t.uniform_(-bound, bound, generator: generator)
        return t.requiringGrad()
    }

    /// Normal with standard deviation `std` (GPT-style 0.02 for embeddings).
    public static func normal(_ shape: [Int], std: Double, generator: Generator) throws -> Tensor {
        let t = try Tensor.zeros(shape)
        try t.normal_(mean: 0, std: std, generator: generator)
        return t.requiringGrad()
    }

    public static func constant(_ shape: [Int], _ value: Double) throws -> Tensor {
        try Tensor.full(shape, value).requiringGrad()
    }
}
