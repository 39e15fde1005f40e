import CTorch

/// LibTorch's AdamW over a fixed list of parameters.
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

    private let handle: OpaquePointer
    public let parameters: [Tensor]

    public init(_ parameters: [Tensor], _ configuration: Configuration = Configuration()) throws {
        self.parameters = parameters
        let handles: [OpaquePointer?] = parameters.map(\.handle)
        let made = handles.withUnsafeBufferPointer {
            ctorch_adamw_new(
                $0.baseAddress, Int64($0.count), configuration.learningRate, configuration.beta1,
                configuration.beta2, configuration.eps, configuration.weightDecay)
        }
        guard let made else { throw TorchError.last("creating AdamW") }
        handle = made
    }

    deinit { ctorch_adamw_free(handle) }

    /// Applies one update from the parameters' gradients.
    public func step() throws { guard ctorch_adamw_step(handle) == 0 else { throw TorchError.last("AdamW step") } }
    public func zeroGrad() throws {
        guard ctorch_adamw_zero_grad(handle) == 0 else { throw TorchError.last("AdamW zero_grad") }
    }
    public func setLearningRate(_ lr: Double) throws {
        guard ctorch_adamw_set_lr(handle, lr) == 0 else { throw TorchError.last("AdamW learning rate") }
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
        guard ctorch_adamw_get_state(handle, Int64(index), &step, &avg, &avgSq) == 0 else {
            throw TorchError.last("reading AdamW state")
        }
        return ParameterState(
            step: Int(step), expAvg: avg.map { Tensor(owning: $0) }, expAvgSq: avgSq.map { Tensor(owning: $0) })
    }

    public func setState(of index: Int, _ state: ParameterState) throws {
        guard let avg = state.expAvg, let avgSq = state.expAvgSq else { return }
        guard ctorch_adamw_set_state(handle, Int64(index), Int64(state.step), avg.handle, avgSq.handle) == 0 else {
            throw TorchError.last("restoring AdamW state")
        }
    }
}
