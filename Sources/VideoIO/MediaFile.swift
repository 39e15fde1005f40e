import CFFmpeg
import Foundation

/// An open media file: FFmpeg's demuxer and the chosen video stream.
///
/// Opening classifies every failure into a `VideoIOError` and checks frame-size caps
/// before any decoder allocates a picture, so hostile files fail here, cheaply.
final class MediaFile {
    let path: String
    let info: MediaInfo
    let format: UnsafeMutablePointer<AVFormatContext>
    let streamIndex: Int32
    let codec: UnsafePointer<AVCodec>
    let limits: VideoIOLimits

    var stream: UnsafeMutablePointer<AVStream> { format.pointee.streams[Int(streamIndex)]! }
    var timeBase: Rational { Rational(stream.pointee.time_base) ?? Rational(1, 90_000) }

    init(path: String, limits: VideoIOLimits) throws {
        _ = FFmpeg.setUp
        self.path = path
        self.limits = limits
        let fileSize = try Self.checkReadable(path)

        FFmpeg.clearLastLogMessage()
        var options: OpaquePointer? = nil
        // A file name is a file name, not an image-sequence pattern ("clip%d.png").
        av_dict_set(&options, "pattern_type", "none", 0)
        var context: UnsafeMutablePointer<AVFormatContext>? = nil
        let rc = avformat_open_input(&context, path, nil, &options)
        av_dict_free(&options)
        guard rc >= 0, let context else { throw Self.openError(rc, path: path) }
        var owned: UnsafeMutablePointer<AVFormatContext>? = context
        var success = false
        defer { if !success { avformat_close_input(&owned) } }

        // Refuse absurd frame sizes before stream analysis decodes a frame.
        try Self.checkStreamSizes(context, limits: limits, path: path)
        let count = Int(context.pointee.nb_streams)
        var streamOptions = [OpaquePointer?](repeating: nil, count: max(count, 1))
        for i in 0..<count { av_dict_set(&streamOptions[i], "max_pixels", String(limits.maxPixels), 0) }
        let infoRC = avformat_find_stream_info(context, &streamOptions)
        for i in 0..<count { av_dict_free(&streamOptions[i]) }
        if infoRC < 0 {
            throw VideoIOError(
                .corrupt, "could not read the stream layout", file: path,
                cause: FFmpeg.cause(infoRC), ffmpegCode: infoRC)
        }
        try Self.checkStreamSizes(context, limits: limits, path: path)

        let (index, codec) = try Self.bestVideoStream(context, path: path)
        let info = Self.describe(context, stream: index, path: path, fileSize: fileSize)
        if info.width <= 0 || info.height <= 0 {
            // FFmpeg refused the picture header (our pixel cap or its own sanity limit) or never found one.
            let cause = FFmpeg.takeLastLogMessage()
            if let cause, cause.contains("max pixel count") || cause.contains("Picture size") {
                throw VideoIOError(
                    .tooLarge,
                    "the picture header claims a frame size past the caps "
                        + "(max \(limits.maxPixels) pixels); refused before decoding", file: path, cause: cause)
            }
            throw VideoIOError(.corrupt, "the video stream has no usable frame size", file: path, cause: cause)
        }
        // Every throw is above this line: once all properties are set, deinit owns the context.
        self.format = context
        self.streamIndex = index
        self.codec = codec
        self.info = info
        success = true
    }

    deinit {
        var context: UnsafeMutablePointer<AVFormatContext>? = format
        avformat_close_input(&context)
    }

    // MARK: - Opening

    private static func checkReadable(_ path: String) throws -> Int64 {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw VideoIOError(.io, "no such file", file: path)
        }
        if isDirectory.boolValue {
            throw VideoIOError(.io, "is a directory; pass a video or image file", file: path)
        }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw VideoIOError(.io, "permission denied: the file is not readable by this user", file: path)
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? -1
        if size == 0 {
            throw VideoIOError(
                .truncated, "the file is empty (0 bytes); if it is still being copied, wait until the copy finishes",
                file: path)
        }
        return size
    }

    private static func openError(_ rc: Int32, path: String) -> VideoIOError {
        let cause = FFmpeg.cause(rc)
        if FFmpeg.isErrno(rc, ENOENT, EACCES, EIO, EISDIR, ENXIO, EPERM) {
            return VideoIOError(.io, "could not open the file", file: path, cause: cause, ffmpegCode: rc)
        }
        if cause.contains("moov atom not found") && startsWithMP4Box(path) {
            return VideoIOError(
                .truncated,
                "the MP4/MOV index (moov atom) is missing: the file was cut off before it was finished "
                    + "(an interrupted download or copy, or a recording that was never closed)",
                file: path, cause: cause, ffmpegCode: rc)
        }
        if rc == FFmpeg.invalidData || rc == cffmpeg_averror_demuxer_not_found() {
            return VideoIOError(
                .unsupported, "not a video or image format FFmpeg recognises", file: path,
                cause: cause, ffmpegCode: rc)
        }
        return VideoIOError(.corrupt, "could not open the container", file: path, cause: cause, ffmpegCode: rc)
    }

    /// Whether the file starts like an MP4/MOV (a known top-level box), so a missing
    /// index means "cut off" rather than "not an MP4 at all" (random bytes named .mp4).
    private static func startsWithMP4Box(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        guard let head = try? handle.read(upToCount: 8), head.count == 8 else { return false }
        let type = String(decoding: head[4..<8], as: UTF8.self)
        return ["ftyp", "moov", "mdat", "free", "skip", "wide", "pnot", "uuid"].contains(type)
    }

    private static func checkStreamSizes(
        _ context: UnsafeMutablePointer<AVFormatContext>,
        limits: VideoIOLimits, path: String
    ) throws {
        for i in 0..<Int(context.pointee.nb_streams) {
            guard let parameters = context.pointee.streams[i]?.pointee.codecpar?.pointee,
                parameters.codec_type == AVMEDIA_TYPE_VIDEO
            else { continue }
            try checkSize(width: Int(parameters.width), height: Int(parameters.height), limits: limits, path: path)
        }
    }

    static func checkSize(width: Int, height: Int, limits: VideoIOLimits, path: String) throws {
        if width > limits.maxDimension || height > limits.maxDimension || width * height > limits.maxPixels {
            throw VideoIOError(
                .tooLarge,
                "frame size \(width)×\(height) is past the caps (max side \(limits.maxDimension), "
                    + "max \(limits.maxPixels) pixels); raise the limits if this file is genuine",
                file: path)
        }
    }

    private static func bestVideoStream(
        _ context: UnsafeMutablePointer<AVFormatContext>,
        path: String
    ) throws -> (Int32, UnsafePointer<AVCodec>) {
        var candidates: [Int32] = []
        var kinds: [String] = []
        for i in 0..<Int(context.pointee.nb_streams) {
            guard let stream = context.pointee.streams[i] else { continue }
            let type = stream.pointee.codecpar.pointee.codec_type
            kinds.append(String(cString: av_get_media_type_string(type) ?? "unknown".withCString { $0 }))
            if type == AVMEDIA_TYPE_VIDEO && stream.pointee.disposition & AV_DISPOSITION_ATTACHED_PIC == 0 {
                candidates.append(Int32(i))
            }
        }
        guard !candidates.isEmpty else {
            let what = kinds.isEmpty ? "no streams at all" : "only " + kinds.joined(separator: ", ") + " stream(s)"
            let coverArt = kinds.contains("video") ? " (the video stream is cover art)" : ""
            throw VideoIOError(.noVideoStream, "the file has \(what)\(coverArt)", file: path)
        }
        var decoder: UnsafePointer<AVCodec>? = nil
        let best = av_find_best_stream(context, AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0)
        let index = candidates.contains(best) ? best : candidates[0]
        if index != best { decoder = nil }
        let parameters = context.pointee.streams[Int(index)]!.pointee.codecpar.pointee
        if decoder == nil { decoder = avcodec_find_decoder(parameters.codec_id) }
        guard let decoder else {
            let name = String(cString: avcodec_get_name(parameters.codec_id))
            throw VideoIOError(.unsupported, "no decoder for the '\(name)' codec in this FFmpeg build", file: path)
        }
        return (index, decoder)
    }

    private static func describe(
        _ context: UnsafeMutablePointer<AVFormatContext>, stream index: Int32,
        path: String, fileSize: Int64
    ) -> MediaInfo {
        let stream = context.pointee.streams[Int(index)]!
        let parameters = stream.pointee.codecpar.pointee
        let container = String(cString: context.pointee.iformat.pointee.name)
        var flipped: Int32 = 0
        let counterClockwise = cffmpeg_stream_display_rotation(stream, &flipped)
        let rotation = ((Int((-counterClockwise / 90).rounded()) * 90) % 360 + 360) % 360
        let codedWidth = Int(parameters.width)
        let codedHeight = Int(parameters.height)
        let swapped = rotation == 90 || rotation == 270
        let pixelFormat =
            av_get_pix_fmt_name(AVPixelFormat(rawValue: parameters.format))
            .map { String(cString: $0) } ?? "unknown"
        // The image2 demuxer and the per-format "*_pipe" image demuxers (png_pipe, jpeg_pipe, …).
        let isStill = container == "image2" || container.hasSuffix("_pipe")

        let timeBase = Rational(stream.pointee.time_base)
        var duration: Double? = nil
        if stream.pointee.duration != FFmpeg.noPTS, stream.pointee.duration > 0, let timeBase {
            duration = Double(stream.pointee.duration) * timeBase.doubleValue
        } else if context.pointee.duration != FFmpeg.noPTS, context.pointee.duration > 0 {
            duration = Double(context.pointee.duration) / Double(cffmpeg_time_base())
        }
        var hasAudio = false
        for i in 0..<Int(context.pointee.nb_streams)
        where context.pointee.streams[i]?.pointee.codecpar.pointee.codec_type == AVMEDIA_TYPE_AUDIO {
            hasAudio = true
        }
        let frames = stream.pointee.nb_frames > 0 ? Int(stream.pointee.nb_frames) : nil
        return MediaInfo(
            path: path,
            fileSize: fileSize,
            container: container,
            isStillImage: isStill,
            videoStream: Int(index),
            codec: String(cString: avcodec_get_name(parameters.codec_id)),
            pixelFormat: pixelFormat,
            width: swapped ? codedHeight : codedWidth,
            height: swapped ? codedWidth : codedHeight,
            codedWidth: codedWidth,
            codedHeight: codedHeight,
            rotation: rotation,
            mirrored: flipped != 0,
            averageFrameRate: isStill ? nil : Rational(stream.pointee.avg_frame_rate)?.doubleValue,
            realFrameRate: isStill ? nil : Rational(stream.pointee.r_frame_rate)?.doubleValue,
            duration: isStill ? nil : duration,
            frameCount: isStill ? 1 : frames,
            hasAudio: hasAudio,
            bitRate: context.pointee.bit_rate > 0 ? Int(context.pointee.bit_rate) : nil
        )
    }
}

/// Reads what a media file holds without decoding it (the container, the best video
/// stream, its display size after rotation, rates and duration).
///
/// - Throws: `VideoIOError` saying why the file cannot be used.
public func probe(_ path: String, limits: VideoIOLimits = VideoIOLimits()) throws -> MediaInfo {
    try MediaFile(path: path, limits: limits).info
}

/// The FFmpeg libraries VideoIO runs on, e.g. ["libavformat 59.27.100", …].
public var ffmpegVersions: [String] { FFmpeg.versions }
