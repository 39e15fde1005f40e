import ConfigCoding

/// What clips to cut from each source.
///
/// Decoded from YAML by the daemon; every field has a default so an empty document is
/// a valid configuration.
public struct ClipConfiguration: Sendable, ConfigurationSection, Equatable {
    /// Target frame rate; frames are chosen by nearest presentation time.
    public var fps: Double
    /// Frames per clip, T = 1 + 4k (17, 33, 49, 65) so the causal tokenizer's
    /// 4× temporal compression has a first frame of its own.
    public var frames: Int
    /// Sampled frames between the starts of consecutive clips; nil means `frames`
    /// (non-overlapping, back to back).
    public var stride: Int?
    /// At most this many clips per bucket per source; nil for no limit.
    public var maxClips: Int?
    /// Bucket sizes, aspect ratios and the enlargement limit.
    public var buckets: BucketPolicy
    /// Decoder threads: 0 lets FFmpeg choose (frame and slice threading), 1 is single-threaded.
    public var decoderThreads: Int
    /// Stop at the first damaged picture (keeping complete clips before it) rather
    /// than letting the decoder conceal damage into clips.
    public var stopOnDamage: Bool
    /// Restart the clip grid at every detected hard cut, so no clip spans two shots. Off, cuts
    /// are still found and a clip across one is marked not single-shot.
    public var splitAtCuts: Bool
    /// A video too short for one `frames`-frame clip (in a bucket) still yields one clip of the
    /// longest 1 + 4k frames it holds, down to this many; nil rejects it as too short.
    public var shortMinFrames: Int?
    /// Find constant black bars (letterbox, pillarbox) and cut them off before bucketing, so a
    /// 2.39:1 film inside a 16:9 frame lands in the 21:9 bucket without bars.
    public var cropBorders: Bool

    public init(
        fps: Double = 8, frames: Int = 17, stride: Int? = nil, maxClips: Int? = nil,
        buckets: BucketPolicy = BucketPolicy(), decoderThreads: Int = 0, stopOnDamage: Bool = true,
        splitAtCuts: Bool = true, shortMinFrames: Int? = 5, cropBorders: Bool = true
    ) {
        self.fps = fps
        self.frames = frames
        self.stride = stride
        self.maxClips = maxClips
        self.buckets = buckets
        self.decoderThreads = decoderThreads
        self.stopOnDamage = stopOnDamage
        self.splitAtCuts = splitAtCuts
        self.shortMinFrames = shortMinFrames
        self.cropBorders = cropBorders
    }

    public static var defaults: Self { Self() }
    public static var keys: [ConfigurationKey<Self>] {
        [
            .init("fps", \.fps), .init("frames", \.frames), .init("stride", \.stride), .init("max_clips", \.maxClips),
            .init("buckets", \.buckets), .init("decoder_threads", \.decoderThreads),
            .init("stop_on_damage", \.stopOnDamage), .init("split_at_cuts", \.splitAtCuts),
            .init("short_min_frames", \.shortMinFrames), .init("crop_borders", \.cropBorders),
        ]
    }

    /// Checks every value; the error names the key and what is allowed.
    public func validate() throws {
        func fail(_ message: String) -> VideoIOError { VideoIOError(.invalidConfiguration, message) }
        guard fps.isFinite, fps > 0, fps <= 1000 else { throw fail("fps must be in (0, 1000], got \(fps)") }
        guard frames >= 1, (frames - 1) % 4 == 0 else {
            throw fail("frames must be 1 + 4k (1, 17, 33, 49, 65, …) for the causal tokenizer, got \(frames)")
        }
        if let shortMinFrames, shortMinFrames < 1 || (shortMinFrames - 1) % 4 != 0 {
            throw fail(
                "short_min_frames must be 1 + 4k (1, 5, 9, 13, …) or null to reject short videos, got \(shortMinFrames)"
            )
        }
        if let stride, stride < 1 { throw fail("stride must be at least 1, got \(stride)") }
        if let maxClips, maxClips < 1 { throw fail("max_clips must be at least 1, got \(maxClips)") }
        guard decoderThreads >= 0 else {
            throw fail("decoder_threads must be 0 (automatic) or more, got \(decoderThreads)")
        }
        guard !buckets.sizes.isEmpty else { throw fail("buckets.sizes must list at least one size") }
        guard buckets.multiple >= 1 else { throw fail("buckets.multiple must be at least 1") }
        for size in buckets.sizes where size < buckets.multiple || size > 8192 {
            throw fail("bucket size \(size) must be between buckets.multiple (\(buckets.multiple)) and 8192")
        }
        guard !buckets.aspectRatios.isEmpty else { throw fail("buckets.aspect_ratios must list at least one ratio") }
        guard buckets.maxUpscale.isFinite, buckets.maxUpscale > 0 else {
            throw fail("buckets.max_upscale must be positive, got \(buckets.maxUpscale)")
        }
    }

    /// The target rate as an exact rational (8 → 8/1, 29.97 → 30000/1001).
    public var fpsRational: Rational { Rational(approximating: fps) }
}

extension BucketPolicy: ConfigurationSection {
    public static var defaults: Self { Self() }
    public static var keys: [ConfigurationKey<Self>] {
        [
            .init("sizes", \.sizes), .init("aspect_ratios", \.aspectRatios), .init("multiple", \.multiple),
            .init("max_upscale", \.maxUpscale),
        ]
    }
}
