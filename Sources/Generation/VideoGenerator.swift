import Model
import Tensor
import TokenFormat
import Tokenizer

/// Videos longer than the model was trained on, two ways (`Continuation`):
///
/// - **Frame re-encoding** (method §5): generate a window, decode it to pixels, re-encode its
///   last `context` frames with the causal tokenizer as the next window's given first latent
///   frames, and continue. Each later window adds `window − context` frames (17-frame windows
///   with 5 frames of context: 17, 29, 41, 53, 65, …).
/// - **Sliding window**: one pass over the whole video's latent frames, each attending to the
///   window's worth of latent frames before it (older ones leave the KV cache), decoded once.
///   Nothing is re-encoded, so the model never sees tokens of its own decoded output — which
///   with a lossy tokenizer are unlike any tokens it was trained on (README: "Long videos").
public struct VideoGenerator {
    public enum Continuation: String, Sendable, CaseIterable {
        case reencode
        case slidingWindow = "slide"
    }

    public let sampler: Sampler
    public let tokenizer: Tokenizer
    /// LibTorch threads while sampling (nil: leave as set). A block step is hundreds of tiny
    /// operations, where waking a second thread costs more than it saves (`videoar bench
    /// generate`, cpu-small, 30 steps: 2.31 s on 2 threads, 0.58 s on 1), while the tokenizer's
    /// decoder gains from every core; a process-wide setting, so the caller chooses.
    public var samplingThreads: Int?

    public init(sampler: Sampler, tokenizer: Tokenizer, samplingThreads: Int? = nil) {
        self.sampler = sampler
        self.tokenizer = tokenizer
        self.samplingThreads = samplingThreads
    }

    /// Pixel videos uint8 [frames, H, W, 3], one per caption.
    /// - Parameters:
    ///   - frames, window, context: pixel frames, each 1 + τk, with context < window (`context`
    ///     is what frame re-encoding carries over; the sliding window ignores it).
    ///   - prefix: bits [1 or B, P, L_f, d] the first window starts from (image- or video-to-video).
    ///   - progress: (window index, windows in all, block steps done in this window, block steps per window).
    public func generate(
        captions: [String?], frames: Int, window: Int, context: Int, continuation: Continuation = .reencode,
        schedule: ScaleSchedule, options: Sampler.Options, prefix: Tensor? = nil,
        progress: (Int, Int, Int, Int) -> Void = { _, _, _, _ in }
    ) throws -> [Tensor] {
        let t = tokenizer.configuration
        for (name, value) in [("frames", frames), ("window", window), ("context", context)]
        where value < 1 || (value - 1) % t.temporalFactor != 0 {
            throw ModelError(.input, "\(name) must be 1 + \(t.temporalFactor)k, got \(value)")
        }
        guard context < window else {
            throw ModelError(.input, "context (\(context)) must be shorter than the window (\(window))")
        }
        let codes = MultiScaleCodes(schedule: schedule, bitsPerToken: t.latentDim, decay: t.codeDecay)
        if continuation == .slidingWindow {
            let layout = SequenceLayout(frames: t.latentFrames(frames), schedule: schedule)
            let bits = try sample(
                captions, layout, codes, options, prefix: prefix, window: t.latentFrames(window)
            ) { done, total in progress(0, 1, done, total) }
            return try captions.indices.map { try decode(bits, sample: $0, frames: frames, schedule: schedule) }
        }
        let layout = SequenceLayout(frames: t.latentFrames(min(window, frames)), schedule: schedule)
        let windows = frames <= window ? 1 : 1 + (frames - window + (window - context) - 1) / (window - context)
        var videos: [[Tensor]] = Array(repeating: [], count: captions.count)  // per sample, frame tensors [H, W, 3]
        var given = prefix
        for w in 0..<windows {
            var windowOptions = options
            windowOptions.seed = options.seed &+ UInt64(w)
            let bits = try sample(captions, layout, codes, windowOptions, prefix: given) { done, total in
                progress(w, windows, done, total)
            }
            var contexts: [Tensor] = []
            for b in 0..<captions.count {
                let pixels = try decode(bits, sample: b, frames: min(window, frames), schedule: schedule)
                let fresh = w == 0 ? 0 : context  // later windows start with the re-encoded context
                for f in fresh..<pixels.shape[0] where videos[b].count < frames {
                    videos[b].append(try pixels.select(dim: 0, f))
                }
                if w + 1 < windows {
                    let tail = try Tensor.stack(Array(videos[b].suffix(context)), dim: 0).contiguous()
                    contexts.append(try tokenizer.encode(tail).bits)  // [P, L_f, d]
                }
            }
            given = contexts.isEmpty ? nil : try Tensor.stack(contexts, dim: 0)
        }
        return try videos.map { try Tensor.stack($0, dim: 0).contiguous() }
    }

    /// The sampler on `samplingThreads` LibTorch threads, the count put back for decoding after.
    private func sample(
        _ captions: [String?], _ layout: SequenceLayout, _ codes: MultiScaleCodes, _ options: Sampler.Options,
        prefix: Tensor?, window: Int? = nil, progress: (Int, Int) -> Void
    ) throws -> Tensor {
        let decodeThreads = Torch.threads
        if let samplingThreads { Torch.threads = samplingThreads }
        defer { Torch.threads = decodeThreads }
        return try sampler.sample(
            captions: captions, layout: layout, codes: codes, options: options, prefix: prefix, window: window,
            progress: progress)
    }

    /// Pixels uint8 [frames, H, W, 3] of sample `b` of `bits` [B, T′, L_f, d].
    private func decode(_ bits: Tensor, sample b: Int, frames: Int, schedule: ScaleSchedule) throws -> Tensor {
        let t = tokenizer.configuration
        let grid = schedule.scales.last!
        return try tokenizer.decode(
            TokenClip(
                tokenizer: tokenizer.identity, frames: frames, latentFrames: bits.shape[1], latentHeight: grid.height,
                latentWidth: grid.width, schedule: schedule, bitsPerToken: t.latentDim, codeDecay: t.codeDecay,
                bits: bits.select(dim: 0, b).contiguous()))
    }
}
