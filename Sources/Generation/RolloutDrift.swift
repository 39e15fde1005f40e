import Foundation
import Model
import Tensor
import TokenFormat
import Tokenizer

/// How far a continuation drifts from the truth (the ablation of issue 12): keep a real
/// clip's first frames as context, let the model continue it past its trained length, and
/// compare each generated frame with the true frame at that time.
///
/// Two references frame the numbers: the tokenizer's own reconstruction of the truth (what a
/// perfect model could reach through this decoder) and the last context frame held still
/// (what a model that had learnt nothing about motion would score). Both belong to the clip,
/// not to a model, so a `Truth` computes them once for every model scored on it.
public struct RolloutDrift {
    /// PSNR (dB) per frame of one video, index = frame of the clip, context frames included:
    /// against the truth, and against the decoded truth (the tokenizer's reconstruction — the
    /// model's drift with the tokenizer's own error taken out). Identical frames score
    /// `RolloutDrift.identical` rather than infinity, so curves average and encode.
    public struct Curves: Codable, Sendable {
        public var vsTruth: [Double]
        public var vsDecoded: [Double]
    }

    /// A true clip prepared once: its context tokens, its decoded version and the references.
    public struct Truth {
        /// uint8 [F, H, W, 3], F = 1 + τk.
        public let pixels: Tensor
        /// The tokenizer's reconstruction of `pixels`.
        public let decoded: Tensor
        /// Bits [1, P, L_f, d] of the first `context` frames: what every rollout starts from.
        public let prefix: Tensor
        /// The reconstruction against the truth (the ceiling).
        public let reconstruction: [Double]
        /// The last context frame held still, against the truth and the decoded truth.
        public let holdLastFrame: Curves

        public init(pixels: Tensor, context: Int, tokenizer: Tokenizer) throws {
            let frames = pixels.shape[0]
            guard context < frames else {
                throw ModelError(.input, "the clip has \(frames) frames; the context (\(context)) must be fewer")
            }
            self.pixels = pixels
            prefix = try tokenizer.encode(pixels.slice(dim: 0, 0..<context).contiguous()).bits.unsqueezed(dim: 0)
            decoded = try tokenizer.reconstruct(pixels)
            reconstruction = try RolloutDrift.curve(decoded, pixels)
            func held(_ video: Tensor) throws -> Tensor {
                try video.select(dim: 0, context - 1).unsqueezed(dim: 0).expanded(to: pixels.shape)
            }
            holdLastFrame = Curves(
                vsTruth: try RolloutDrift.curve(held(pixels), pixels),
                vsDecoded: try RolloutDrift.curve(held(decoded), decoded))
        }
    }

    /// The PSNR given to a frame equal to the truth.
    public static let identical = 100.0

    public let generator: VideoGenerator
    public let window: Int
    /// How the video goes past `window` frames, and the frames frame re-encoding carries over.
    public let continuation: VideoGenerator.Continuation
    public let reencode: Int

    public init(generator: VideoGenerator, window: Int, continuation: VideoGenerator.Continuation, reencode: Int) {
        self.generator = generator
        self.window = window
        self.continuation = continuation
        self.reencode = reencode
    }

    /// The curves of one rollout from `truth`'s context, and the generated video [F, H, W, 3].
    public func measure(_ truth: Truth, caption: String?, options: Sampler.Options) throws -> (
        curves: Curves, video: Tensor
    ) {
        let t = generator.tokenizer.configuration
        let shape = truth.pixels.shape
        let schedule = ScaleSchedule(
            height: shape[1] / t.spatialFactor, width: shape[2] / t.spatialFactor, sides: t.scaleSides)
        let generated = try generator.generate(
            captions: [caption], frames: shape[0], window: window, context: reencode, continuation: continuation,
            schedule: schedule, options: options, prefix: truth.prefix)[0]
        let curves = Curves(
            vsTruth: try Self.curve(generated, truth.pixels), vsDecoded: try Self.curve(generated, truth.decoded))
        return (curves, generated)
    }

    static func curve(_ video: Tensor, _ reference: Tensor) throws -> [Double] {
        try (0..<reference.shape[0]).map {
            min(identical, try psnr(video.select(dim: 0, $0), reference.select(dim: 0, $0)))
        }
    }
}
