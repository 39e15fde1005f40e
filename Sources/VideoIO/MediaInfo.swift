import ConfigCoding

/// What `probe` learns about a media file without decoding it fully.
public struct MediaInfo: Sendable, Codable, Equatable {
    public var path: String
    /// File size in bytes.
    public var fileSize: Int64
    /// FFmpeg's demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2" or "png_pipe".
    public var container: String
    /// True for JPEG/PNG/WebP/BMP and other single-picture files: 1-frame media.
    public var isStillImage: Bool
    /// Index of the chosen video stream (the best one, not necessarily stream 0).
    public var videoStream: Int
    /// Codec short name, e.g. "h264".
    public var codec: String
    /// Pixel format name, e.g. "yuv420p10le".
    public var pixelFormat: String
    /// Width and height as a person sees the picture: after applying rotation.
    public var width: Int
    public var height: Int
    /// Width and height as stored in the bitstream.
    public var codedWidth: Int
    public var codedHeight: Int
    /// Clockwise rotation applied for display: 0, 90, 180 or 270.
    public var rotation: Int
    /// Whether the display matrix also mirrors the picture (reported, not applied).
    public var mirrored: Bool
    /// The stream's average frame rate (frames / duration), when known.
    public var averageFrameRate: Double?
    /// The stream's "real" base frame rate (the lowest rate all timestamps fit), when known.
    public var realFrameRate: Double?
    /// Duration in seconds, when known.
    public var duration: Double?
    /// Number of frames, when the container states it.
    public var frameCount: Int?
    /// Whether any audio stream is present.
    public var hasAudio: Bool
    /// Overall bit rate in bits per second, when known.
    public var bitRate: Int?

    /// The frame count the container states, or one estimated from duration × average rate.
    public var estimatedFrameCount: Int? {
        if let frameCount { return frameCount }
        if isStillImage { return 1 }
        if let duration, let averageFrameRate { return Int((duration * averageFrameRate).rounded()) }
        return nil
    }
}

/// Caps that protect the process from hostile or absurd input.
public struct VideoIOLimits: Sendable, ConfigurationSection, Equatable {
    /// Largest allowed width or height, in pixels.
    public var maxDimension: Int
    /// Largest allowed width × height (checked before any frame buffer is allocated).
    public var maxPixels: Int

    /// Defaults admit 8K UHD (7680×4320) and refuse anything larger.
    public init(maxDimension: Int = 16_384, maxPixels: Int = 7680 * 4320) {
        self.maxDimension = maxDimension
        self.maxPixels = maxPixels
    }

    public static var defaults: Self { Self() }
    public static var keys: [ConfigurationKey<Self>] {
        [.init("max_dimension", \.maxDimension), .init("max_pixels", \.maxPixels)]
    }
}

/// Everything VideoIO reads from a configuration file: the clip shape and the safety caps.
///
/// `Configs/clips.yaml` is one of these; the daemon's configuration embeds it.
public struct VideoIOConfiguration: Sendable, ConfigurationSection, Equatable {
    public var clips: ClipConfiguration
    public var limits: VideoIOLimits

    public init(clips: ClipConfiguration = ClipConfiguration(), limits: VideoIOLimits = VideoIOLimits()) {
        self.clips = clips
        self.limits = limits
    }

    public static var defaults: Self { Self() }
    public static var keys: [ConfigurationKey<Self>] { [.init("clips", \.clips), .init("limits", \.limits)] }

    /// Checks every value; the error names the key.
    public func validate() throws {
        try clips.validate()
        guard limits.maxDimension > 0, limits.maxPixels > 0 else {
            throw VideoIOError(.invalidConfiguration, "limits.max_dimension and limits.max_pixels must be positive")
        }
    }
}
