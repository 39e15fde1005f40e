import Model

/// The ablation of the method's stability techniques (method §4, issue 12): one base
/// configuration, and variants that switch the techniques on one at a time, in the paper's
/// order, each keeping the ones before it. Same data, steps and seeds in every variant, so a
/// difference between two rows is the technique's.
public enum Ablation {
    public struct Variant: Sendable {
        /// Short, for run folders and tables.
        public let name: String
        /// What this row adds.
        public let adds: String
        let apply: @Sendable (inout ModelTrainingConfiguration) -> Void
    }

    /// Baseline: 1D RoPE over the token index; Infinity's bitwise self-correction with one flip
    /// ratio U(p_min, p_max) for every frame, drawn afresh per scale; no frame mask.
    public static let variants: [Variant] = [
        Variant(name: "baseline", adds: "1D RoPE, plain self-correction, no frame mask") {
            $0.model.rope = .sequence
            $0.corruption.perFrame = 0
            $0.corruption.inherit = false
            $0.frameMask.enabled = false
        },
        Variant(name: "temporal-rope", adds: "+ Multi-scale Temporal RoPE") { $0.model.rope = .temporal },
        Variant(name: "time-ramp", adds: "+ time-ramped error correction") { $0.corruption.perFrame = 0.01 },
        Variant(name: "inherit", adds: "+ error inheritance across frames") { $0.corruption.inherit = true },
        Variant(name: "frame-mask", adds: "+ Random Frame Mask") { $0.frameMask.enabled = true },
    ]

    /// Variant `index` of `base`: every variant up to it applied in order. The configuration's
    /// own corruption bounds, frame-mask window and probability are kept.
    public static func configuration(_ base: ModelTrainingConfiguration, variant index: Int)
        -> ModelTrainingConfiguration
    {
        var configuration = base
        for variant in variants[...index] { variant.apply(&configuration) }
        configuration.model.name = base.model.name + "-" + variants[index].name
        configuration.corruption.enabled = true
        return configuration
    }
}
