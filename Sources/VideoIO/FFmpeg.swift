import CFFmpeg

/// Small helpers around FFmpeg's C API that every VideoIO type needs.
enum FFmpeg {
    static let eof = cffmpeg_averror_eof()
    static let eagain = cffmpeg_averror_eagain()
    static let invalidData = cffmpeg_averror_invaliddata()
    static let noPTS = cffmpeg_nopts_value()

    /// Installs the log capture once per process (FFmpeg's log callback is global).
    static let setUp: Void = {
        let echo: Int32 = ProcessEnvironment.ffmpegLogEcho ? AV_LOG_WARNING : AV_LOG_QUIET
        cffmpeg_install_log_capture(echo)
    }()

    /// FFmpeg's text for an AVERROR code.
    static func errorString(_ code: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        cffmpeg_error_string(code, &buffer, buffer.count)
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// The last error line FFmpeg logged on this thread, then forgets it.
    static func takeLastLogMessage() -> String? {
        let text = String(cString: cffmpeg_last_log_message())
        cffmpeg_clear_last_log_message()
        return text.isEmpty ? nil : text
    }

    static func clearLastLogMessage() { cffmpeg_clear_last_log_message() }

    /// The return code's text joined with whatever FFmpeg logged while failing.
    static func cause(_ code: Int32) -> String {
        let text = errorString(code)
        if let logged = takeLastLogMessage(), logged != text { return "\(text); \(logged)" }
        return text
    }

    static func isErrno(_ code: Int32, _ errnos: Int32...) -> Bool {
        code < 0 && errnos.contains(cffmpeg_errno_from_averror(code))
    }

    /// FFmpeg library versions, as "libavcodec 59.37.100" lines.
    static var versions: [String] {
        func text(_ v: UInt32) -> String { "\(v >> 16).\((v >> 8) & 0xff).\(v & 0xff)" }
        return [
            "libavformat \(text(avformat_version()))",
            "libavcodec \(text(avcodec_version()))",
            "libswscale \(text(swscale_version()))",
            "libavutil \(text(avutil_version()))",
        ]
    }
}

/// Environment switches read once.
enum ProcessEnvironment {
    /// `VIDEOAR_FFMPEG_LOG=1` echoes FFmpeg's warnings and errors to stderr (quiet by default).
    static let ffmpegLogEcho: Bool = {
        guard let value = getenv("VIDEOAR_FFMPEG_LOG") else { return false }
        let text = String(cString: value)
        return !text.isEmpty && text != "0"
    }()
}

/// An exact rational number, as FFmpeg's AVRational but with Swift arithmetic.
public struct Rational: Hashable, Sendable, Codable, CustomStringConvertible {
    public var numerator: Int64
    public var denominator: Int64

    public init(_ numerator: Int64, _ denominator: Int64) {
        precondition(denominator != 0, "Rational with zero denominator")
        let sign: Int64 = denominator < 0 ? -1 : 1
        let g = Rational.gcd(abs(numerator), abs(denominator))
        self.numerator = sign * numerator / max(g, 1)
        self.denominator = sign * denominator / max(g, 1)
    }

    init?(_ value: AVRational) {
        guard value.den != 0, value.num != 0 else { return nil }
        self.init(Int64(value.num), Int64(value.den))
    }

    /// The closest rational with a small denominator (e.g. 29.97 → 30000/1001).
    public init(approximating value: Double, maxDenominator: Int32 = 1_001_000) {
        let q = av_d2q(value, maxDenominator)
        self.init(Int64(q.num), Int64(max(q.den, 1)))
    }

    public var doubleValue: Double { Double(numerator) / Double(denominator) }
    public var description: String { denominator == 1 ? "\(numerator)" : "\(numerator)/\(denominator)" }

    static func gcd(_ a: Int64, _ b: Int64) -> Int64 {
        var (a, b) = (a, b)
        while b != 0 { (a, b) = (b, a % b) }
        return a
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
