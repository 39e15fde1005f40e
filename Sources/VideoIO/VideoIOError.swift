/// An error from reading or writing media.
import Diagnostics
///
/// The `code` is stable and meant for programs (the ingest daemon decides between
/// "retry later" and "reject for good" on it); `message` is for people and says what
/// happened and, where there is something to do, what to do; `cause` carries FFmpeg's
/// own words so nothing is lost when we summarise.
public struct VideoIOError: CodedError, Equatable {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible, Codable {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// A format or codec FFmpeg cannot read (random bytes, text, an unknown codec).
        public static let unsupported = Code("unsupported")
        /// The container or bitstream is damaged.
        public static let corrupt = Code("corrupt")
        /// The file ends before its own metadata says it should (an interrupted copy).
        public static let truncated = Code("truncated")
        /// The file holds no video or image stream (audio only, subtitles, cover art only).
        public static let noVideoStream = Code("no-video-stream")
        /// The frame size is past the configured caps (a decompression bomb or absurd input).
        public static let tooLarge = Code("too-large")
        /// The file could not be read or written (missing, permissions, a failing disk).
        public static let io = Code("io")
        /// Writing a video or image failed inside the encoder or muxer.
        public static let encoder = Code("encoder")
        /// A configuration value makes the request impossible.
        public static let invalidConfiguration = Code("invalid-configuration")
    }

    public var code: Code
    public var message: String
    /// The file the error is about, when there is one.
    public var file: String?
    /// FFmpeg's message(s) behind the error, e.g. "Invalid data found when processing input; moov atom not found".
    public var cause: String?
    /// The FFmpeg (AVERROR) return code, when the error came from an FFmpeg call.
    public var ffmpegCode: Int32?

    public init(_ code: Code, _ message: String, file: String? = nil, cause: String? = nil, ffmpegCode: Int32? = nil) {
        self.code = code
        self.message = message
        self.file = file
        self.cause = cause
        self.ffmpegCode = ffmpegCode
    }

    public var description: String {
        var text = ""
        if let file { text += "\(file): " }
        text += "\(code): \(message)"
        if let cause, !cause.isEmpty { text += " (ffmpeg: \(cause))" }
        return text
    }

    /// Whether trying the same file again later may succeed (only I/O failures).
    public var isRetryable: Bool { code == .io }
}
