import Foundation
import Model
import Tensor
import TokenFormat
import Tokenizer

/// How far a continuation drifts from the truth (the ablation of issue 12): keep a real
/// clip's first frames as context, let the model continue it past its trained length by
/// frame re-encoding, and compare each generated frame with the true frame at that time.
///
/// Two references frame the numbers: the tokenizer's own reconstruction of the truth (what a
/// perfect model could reach through this decoder) and the last context frame held still
/// (what a model that had learnt nothing about motion would score).
public struct RolloutDrift {
    /// PSNR (dB) per frame, index = frame of the clip; context frames included. Identical
    /// frames score `RolloutDrift.identical` rather than infinity, so curves average and encode.
    public struct Curves: Codable, Sendable {
        public var generated: [Double]
        public var reconstruction: [Double]
        public var holdLastFrame: [Double]
        /// The same comparisons against the decoded truth (the tokenizer's reconstruction)
        /// instead of the truth: the model's drift with the tokenizer's own error taken out.
        public var generatedVsDecoded: [Double]
        public var holdLastFrameVsDecoded: [Double]
    }

    /// The PSNR given to a frame equal to the truth.
    public static let identical = 100.0

    public let generator: VideoGenerator
    /// Frames of the truth given as context: 1 + τk.
    public let context: Int
    public let window: Int
    /// How the video goes past `window` frames, and the frames frame re-encoding carries over.
    public let continuation: VideoGenerator.Continuation
    public let reencode: Int

    public init(
        generator: VideoGenerator, context: Int, window: Int, continuation: VideoGenerator.Continuation,
        reencode: Int
    ) {
        self.generator = generator
        self.context = context
        self.window = window
        self.continuation = continuation
        self.reencode = reencode
    }

    /// Curves for one true clip uint8 [F, H, W, 3] (F = 1 + τk, more than `context`), and the
    /// generated video [F, H, W, 3] to look at.
    public func measure(truth: Tensor, caption: String?, options: Sampler.Options) throws -> (
        curves: Curves, video: Tensor
    ) {
        let tokenizer = generator.tokenizer
        let t = tokenizer.configuration
        let frames = truth.shape[0]
        guard context < frames else {
            throw ModelError(.input, "the clip has \(frames) frames; the context (\(context)) must be fewer")
        }
        let grid = (height: truth.shape[1] / t.spatialFactor, width: truth.shape[2] / t.spatialFactor)
        let schedule = ScaleSchedule(height: grid.height, width: grid.width, sides: t.scaleSides)
        let prefix = try tokenizer.encode(truth.slice(dim: 0, 0..<context).contiguous()).bits.unsqueezed(dim: 0)
        let generated = try generator.generate(
            captions: [caption], frames: frames, window: window, context: reencode, continuation: continuation,
            schedule: schedule, options: options, prefix: prefix)[0]
        let reconstruction = try tokenizer.decode(try tokenizer.encode(truth))
        let held = try truth.select(dim: 0, context - 1).unsqueezed(dim: 0).expanded(
            to: [frames] + truth.shape.dropFirst())
        let heldDecoded = try reconstruction.select(dim: 0, context - 1).unsqueezed(dim: 0)
            .expanded(to: [frames] + truth.shape.dropFirst())
        func curve(_ video: Tensor, _ reference: Tensor) throws -> [Double] {
            try (0..<frames).map {
                min(Self.identical, try psnr(video.select(dim: 0, $0), reference.select(dim: 0, $0)))
            }
        }
        let curves = Curves(
            generated: try curve(generated, truth), reconstruction: try curve(reconstruction, truth),
            holdLastFrame: try curve(held, truth), generatedVsDecoded: try curve(generated, reconstruction),
            holdLastFrameVsDecoded: try curve(heldDecoded, reconstruction))
        return (curves, generated)
    }
}
