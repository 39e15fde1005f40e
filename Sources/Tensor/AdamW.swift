import CTorch
import Foundation

/// LibTorch's AdamW over a fixed list of parameters, optionally in groups with their own weight decay.
public final class AdamW {
    public struct Configuration: Sendable, Equatable {
        public var learningRate: Double
        public var beta1: Double
        public var beta2: Double
        public var eps: Double
        public var weightDecay: Double
        /// Defaults from the method: β = (0.9, 0.95), weight decay 0.05.
        public init(
            learningRate: Double = 1e-4, beta1: Double = 0.9, beta2: Double = 0.95, eps: Double = 1e-8,
            weightDecay: Double = 0.05
        ) {
            self.learningRate = learningRate
            self.beta1 = beta1
            self.beta2 = beta2
            self.eps = eps
            self.weightDecay = weightDecay
        }
    }

    /// Parameters that share a weight decay: transformers decay their matrices but not their
    /// norms, biases and embeddings.
    public struct Group {
        public var parameters: [Tensor]
        public var weightDecay: Double
        /// The parameters' names, when known: checkpoints then key the moments by name, so a
        /// later change of grouping or order still restores each moment onto its parameter.
        public var names: [String]?
        public init(_ parameters: [Tensor], weightDecay: Double, names: [String]? = nil) {
            self.parameters = parameters
            self.weightDecay = weightDecay
            self.names = names
        }
    }

    /// One LibTorch optimiser per group; a parameter's index is its place in `parameters`.
    private let handles: [OpaquePointer]
    private let slots: [(handle: Int, index: Int)]
    public let parameters: [Tensor]
    /// One name per parameter, in `parameters` order, when every group named its parameters.
    public let names: [String]?

    public convenience init(_ parameters: [Tensor], _ configuration: Configuration = Configuration()) throws {
        try self.init(groups: [Group(parameters, weightDecay: configuration.weightDecay)], configuration)
    }

    /// Groups with their own weight decay (the configuration's applies to none of them);
    /// everything else is shared.
    public init(groups: [Group], _ configuration: Configuration = Configuration()) throws {
        var handles: [OpaquePointer] = []
        var slots: [(handle: Int, index: Int)] = []
        for group in groups where !group.parameters.isEmpty {
            let pointers: [OpaquePointer?] = group.parameters.map(\.handle)
            let made = pointers.withUnsafeBufferPointer {
                ctorch_adamw_new(
                    $0.baseAddress, Int64($0.count), configuration.learningRate, configuration.beta1,
                    configuration.beta2, configuration.eps, group.weightDecay)
            }
            guard let made else {
                for handle in handles { ctorch_adamw_free(handle) }
                throw TorchError.last("creating AdamW")
            }
            slots += group.parameters.indices.map { (handles.count, $0) }
            handles.append(made)
        }
        self.handles = handles
        self.slots = slots
        let kept = groups.filter { !$0.parameters.isEmpty }
        parameters = kept.flatMap(\.parameters)
        names = kept.allSatisfy { $0.names?.count == $0.parameters.count } ? kept.flatMap { $0.names! } : nil
    }

    /// Decay for matrices (rank ≥ 2), none for norms, biases and embedding tables — nanoGPT's
    /// and the method's split; `isEmbedding` names the tables by their parameter names.
    public static func decayGroups(
        _ named: [(name: String, tensor: Tensor)], weightDecay: Double,
        isEmbedding: (String) -> Bool = { $0.lowercased().contains("embedding") }
    ) -> [Group] {
        let decayed = named.filter { $0.tensor.rank >= 2 && !isEmbedding($0.name) }
        let plain = named.filter { $0.tensor.rank < 2 || isEmbedding($0.name) }
        return [
            Group(decayed.map(\.tensor), weightDecay: weightDecay, names: decayed.map(\.name)),
            Group(plain.map(\.tensor), weightDecay: 0, names: plain.map(\.name)),
        ]
    }

    deinit { for handle in handles { ctorch_adamw_free(handle) } }

    /// Applies one update from the parameters' gradients.
    public func step() throws {
        for handle in handles { guard ctorch_adamw_step(handle) == 0 else { throw TorchError.last("AdamW step") } }
    }
    public func zeroGrad() throws {
        for handle in handles {
            guard ctorch_adamw_zero_grad(handle) == 0 else { throw TorchError.last("AdamW zero_grad") }
        }
    }
    public func setLearningRate(_ lr: Double) throws {
        for handle in handles {
            guard ctorch_adamw_set_lr(handle, lr) == 0 else { throw TorchError.last("AdamW learning rate") }
        }
    }

    /// One parameter's optimiser state: the step count and the two moment estimates.
    public struct ParameterState {
        public var step: Int
        public var expAvg: Tensor?
        public var expAvgSq: Tensor?
        public init(step: Int, expAvg: Tensor?, expAvgSq: Tensor?) {
            self.step = step
            self.expAvg = expAvg
            self.expAvgSq = expAvgSq
        }
    }

    public func state(of index: Int) throws -> ParameterState {
        var step: Int64 = 0
        var avg: OpaquePointer?
        var avgSq: OpaquePointer?
        let slot = slots[index]
        guard ctorch_adamw_get_state(handles[slot.handle], Int64(slot.index), &step, &avg, &avgSq) == 0 else {
            throw TorchError.last("reading AdamW state")
        }
        return ParameterState(
            step: Int(step), expAvg: avg.map { Tensor(owning: $0) }, expAvgSq: avgSq.map { Tensor(owning: $0) })
    }

    public func setState(of index: Int, _ state: ParameterState) throws {
        guard let avg = state.expAvg, let avgSq = state.expAvgSq else { return }
        let slot = slots[index]
        guard
            ctorch_adamw_set_state(handles[slot.handle], Int64(slot.index), Int64(state.step), avg.handle, avgSq.handle)
                == 0
        else {
            throw TorchError.last("restoring AdamW state")
        }
    }
}
