/// T consecutive frames of one source, resampled to a fixed rate and sized to a bucket.
public struct Clip: Sendable {
    /// The file the clip came from.
    public var source: String
    public var bucket: Bucket
    /// Position of this clip among the source's clips in the same bucket (0, 1, …).
    public var index: Int
    /// Target frame rate the frames were sampled at.
    public var fps: Double
    /// RGB bytes laid out `[T, H, W, 3]` (frame, row, column, channel), contiguous.
    public var pixels: [UInt8]
    /// For each frame, the target time it was sampled for (seconds on the source's clock).
    public var targetTimes: [Double]
    /// For each frame, the presentation time of the source frame chosen (seconds).
    public var frameTimes: [Double]
    /// Curation scores (motion, flat frames, detail, perceptual hash), when measured.
    public var quality: ClipQuality?

    public init(
        source: String, bucket: Bucket, index: Int, fps: Double, pixels: [UInt8],
        targetTimes: [Double], frameTimes: [Double]
    ) {
        precondition(targetTimes.count == frameTimes.count, "one target and one source time per frame")
        precondition(
            pixels.count == targetTimes.count * bucket.width * bucket.height * 3, "pixels must be [T, H, W, 3]")
        self.source = source
        self.bucket = bucket
        self.index = index
        self.fps = fps
        self.pixels = pixels
        self.targetTimes = targetTimes
        self.frameTimes = frameTimes
    }

    public var frameCount: Int { targetTimes.count }
    public var width: Int { bucket.width }
    public var height: Int { bucket.height }
    /// Bytes of one frame: H × W × 3.
    public var frameBytes: Int { bucket.width * bucket.height * 3 }
    /// The first target time.
    public var startTime: Double { targetTimes.first ?? 0 }
    /// The end of the last frame's slot: start + T / fps.
    public var endTime: Double { startTime + Double(frameCount) / fps }
    public var duration: Double { Double(frameCount) / fps }

    /// The RGB bytes of frame `t`.
    public func frame(_ t: Int) -> ArraySlice<UInt8> {
        pixels[(t * frameBytes)..<((t + 1) * frameBytes)]
    }
}
