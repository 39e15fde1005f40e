/// An exponential moving average of a module's parameters ("EMA weights").
///
/// The weights of the last step carry the noise of the last few batches; their running
/// average is usually a little better on held-out data and costs one multiply-add per
/// parameter per step. The average lives beside the model (the optimiser never sees it):
/// a trainer updates it after each step, checkpoints `values`, and ships them at the end.
public final class ParameterAverage {
    /// average ← decay · average + (1 − decay) · weights after every step; 0.999 averages
    /// over roughly the last thousand steps.
    public let decay: Double
    /// The averaged tensors, by parameter name (copies: never the module's own tensors).
    public private(set) var values: [String: Tensor]

    /// Starts the average at the module's current weights (no warm-up bias to correct).
    public init(of module: some Module, decay: Double) throws {
        self.decay = try Self.checked(decay)
        values = try withoutGrad {
            Dictionary(
                uniqueKeysWithValues: try module.namedParameters().map { ($0.name, try $0.tensor.detached().cloned()) })
        }
    }

    /// Continues a saved average: every parameter of `module` must be in `values` with its shape.
    public init(restoring values: [String: Tensor], for module: some Module, decay: Double) throws {
        self.decay = try Self.checked(decay)
        var restored: [String: Tensor] = [:]
        for (name, parameter) in module.namedParameters() {
            guard let value = values[name] else {
                throw TorchError(.format, "the saved average has no '\(name)'")
            }
            guard value.shape == parameter.shape else {
                throw TorchError(
                    .format, "the saved average's '\(name)' has shape \(value.shape), the model's \(parameter.shape)")
            }
            restored[name] = try withoutGrad { try value.to(parameter.dtype).cloned() }
        }
        self.values = restored
    }

    private static func checked(_ decay: Double) throws -> Double {
        guard decay >= 0, decay < 1 else {
            throw TorchError(.operation, "an average's decay must be in [0, 1), got \(decay)")
        }
        return decay
    }

    /// Folds the module's current weights into the average.
    public func update(from module: some Module) throws {
        try withoutGrad {
            for (name, parameter) in module.namedParameters() {
                guard let average = values[name] else {
                    throw TorchError(.format, "'\(name)' is not in the average (the module changed shape)")
                }
                try average.mul_(decay)
                try average.add_(parameter, alpha: 1 - decay)
            }
        }
    }
}
