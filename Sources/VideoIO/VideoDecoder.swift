import CFFmpeg

/// Streams decoded pictures of one video stream, in presentation order.
///
/// Holds one packet and one frame; a caller that wants to keep a picture moves it out
/// with `av_frame_move_ref`. Decoding errors are explicit (`AV_EF_EXPLODE`) so damage
/// stops the stream where it is instead of silently concealed garbage reaching a clip.
final class VideoDecoder {
    let file: MediaFile
    private let context: UnsafeMutablePointer<AVCodecContext>
    private let packet: UnsafeMutablePointer<AVPacket>
    private let frame: UnsafeMutablePointer<AVFrame>
    private var draining = false
    /// A packet the decoder refused with EAGAIN: sent again before reading the next one.
    private var pending = false
    /// Time (seconds) of the last packet read: where damage is reported.
    private(set) var lastPacketTime: Double?
    /// Decoded frames so far.
    private(set) var framesDecoded = 0

    /// - Parameters:
    ///   - threads: decoder threads, 0 for FFmpeg's automatic choice.
    ///   - strict: stop at the first decoding error rather than concealing it.
    init(file: MediaFile, threads: Int, strict: Bool = true) throws {
        self.file = file
        guard let context = avcodec_alloc_context3(file.codec),
            let packet = av_packet_alloc(), let frame = av_frame_alloc()
        else {
            throw VideoIOError(.io, "out of memory creating the decoder", file: file.path)
        }
        self.context = context
        self.packet = packet
        self.frame = frame
        var rc = avcodec_parameters_to_context(context, file.stream.pointee.codecpar)
        if rc >= 0 {
            context.pointee.pkt_timebase = file.stream.pointee.time_base
            context.pointee.thread_count = Int32(max(0, threads))
            context.pointee.thread_type =
                strict && Self.frameThreadingBreaksStrictDecoding.contains(file.codec.pointee.id.rawValue)
                ? FF_THREAD_SLICE : FF_THREAD_FRAME | FF_THREAD_SLICE
            context.pointee.max_pixels = Int64(file.limits.maxPixels)
            if strict { context.pointee.err_recognition |= AV_EF_EXPLODE }
            FFmpeg.clearLastLogMessage()
            rc = avcodec_open2(context, file.codec, nil)
        }
        if rc < 0 {
            throw VideoIOError(
                .unsupported, "could not open the \(file.info.codec) decoder", file: file.path,
                cause: FFmpeg.cause(rc), ffmpegCode: rc)
        }
    }

    /// Codecs whose frame-threaded decoder, with `AV_EF_EXPLODE`, aborts the whole process on
    /// damage instead of returning an error. FFmpeg 5.1's MPEG-4 Part 2 decoder hands back an
    /// empty picture after a worker's error and trips `Assertion frame->buf[0] failed` in
    /// decode.c (SIGABRT). Measured with 4 KB of random bytes in the middle of each file:
    /// mpeg4 aborted 12 of 12 times; h264, hevc, vp8, vp9, av1, theora, mjpeg, ffv1, mpeg2video,
    /// msmpeg4v3, h263p, flv1, png and huffyuv 0 of 8 each. These decode slice-threaded (for
    /// mpeg4: one thread; it is cheap), and damage ends the stream cleanly as everywhere else.
    static let frameThreadingBreaksStrictDecoding: Set<AVCodecID.RawValue> = [AV_CODEC_ID_MPEG4.rawValue]

    deinit {
        var context: UnsafeMutablePointer<AVCodecContext>? = context
        avcodec_free_context(&context)
        var packet: UnsafeMutablePointer<AVPacket>? = packet
        av_packet_free(&packet)
        var frame: UnsafeMutablePointer<AVFrame>? = frame
        av_frame_free(&frame)
    }

    /// Moves to the keyframe at or before `seconds` (from the stream's start) and forgets what
    /// the decoder held; false when the file cannot seek.
    func seek(toSeconds seconds: Double) -> Bool {
        let start = file.stream.pointee.start_time == FFmpeg.noPTS ? 0 : file.stream.pointee.start_time
        let target = start + Int64(seconds / file.timeBase.doubleValue)
        guard av_seek_frame(file.format, file.streamIndex, target, AVSEEK_FLAG_BACKWARD) >= 0 else { return false }
        avcodec_flush_buffers(context)
        if pending { av_packet_unref(packet) }
        pending = false
        draining = false
        return true
    }

    /// The next picture (owned by the decoder, valid until the next call), or nil at the end.
    func next() throws -> UnsafeMutablePointer<AVFrame>? {
        while true {
            let rc = avcodec_receive_frame(context, frame)
            if rc >= 0 {
                if cffmpeg_frame_is_corrupt(frame) != 0 {
                    throw VideoIOError(
                        .corrupt, "the decoder flagged a damaged picture", file: file.path,
                        cause: FFmpeg.takeLastLogMessage())
                }
                try MediaFile.checkSize(
                    width: Int(frame.pointee.width), height: Int(frame.pointee.height),
                    limits: file.limits, path: file.path)
                framesDecoded += 1
                return frame
            }
            if rc == FFmpeg.eof { return nil }
            if rc != FFmpeg.eagain { throw decodingError(rc) }
            if draining { return nil }
            try feed()
        }
    }

    /// Reads packets until one of our stream is accepted by the decoder, or signals the end.
    private func feed() throws {
        if pending {
            let sent = avcodec_send_packet(context, packet)
            if sent == FFmpeg.eagain { return }  // still full: the caller drains frames first
            pending = false
            av_packet_unref(packet)
            if sent < 0 { throw decodingError(sent) }
            return
        }
        while true {
            FFmpeg.clearLastLogMessage()
            let rc = av_read_frame(file.format, packet)
            if rc == FFmpeg.eof {
                avcodec_send_packet(context, nil)
                draining = true
                return
            }
            if rc < 0 { throw readingError(rc) }
            guard packet.pointee.stream_index == file.streamIndex else {
                av_packet_unref(packet)
                continue
            }
            if packet.pointee.flags & AV_PKT_FLAG_CORRUPT != 0,
                packet.pointee.pos >= 0, packet.pointee.pos + Int64(packet.pointee.size) >= file.info.fileSize
            {
                // The demuxer ran out of file mid-packet ("partial file").
                av_packet_unref(packet)
                let stated = file.info.duration.map { String(format: " (its header states %.2f s)", $0) } ?? ""
                throw VideoIOError(
                    .truncated,
                    "the file is cut off: its data ends early\(stated); an interrupted copy or download?",
                    file: file.path, cause: FFmpeg.takeLastLogMessage())
            }
            if packet.pointee.pts != FFmpeg.noPTS || packet.pointee.dts != FFmpeg.noPTS {
                let ts = packet.pointee.pts != FFmpeg.noPTS ? packet.pointee.pts : packet.pointee.dts
                lastPacketTime = Double(ts) * file.timeBase.doubleValue
            }
            let sent = avcodec_send_packet(context, packet)
            if sent == FFmpeg.eagain {
                pending = true  // keep the packet; frames must be received first
                return
            }
            av_packet_unref(packet)
            if sent < 0 { throw decodingError(sent) }
            return
        }
    }

    private func decodingError(_ rc: Int32) -> VideoIOError {
        VideoIOError(
            .corrupt, "the \(file.info.codec) bitstream is damaged", file: file.path,
            cause: FFmpeg.cause(rc), ffmpegCode: rc)
    }

    private func readingError(_ rc: Int32) -> VideoIOError {
        let cause = FFmpeg.cause(rc)
        if cause.contains("partial file") {
            return VideoIOError(
                .truncated, "the file ends in the middle of its data (an interrupted copy or download?)",
                file: file.path, cause: cause, ffmpegCode: rc)
        }
        if FFmpeg.isErrno(rc, EIO, ENXIO, ESTALE, ENODEV) {
            return VideoIOError(.io, "reading the file failed", file: file.path, cause: cause, ffmpegCode: rc)
        }
        return VideoIOError(.corrupt, "the container is damaged", file: file.path, cause: cause, ffmpegCode: rc)
    }
}

#if canImport(Glibc)
import Glibc
#endif
