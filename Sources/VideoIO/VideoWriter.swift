import AtomicFiles
import CFFmpeg
import Foundation

/// Writes RGB frames to an MP4 file: H.264 (libx264) when this FFmpeg build has it,
/// MPEG-4 Part 2 otherwise. The file appears under its final name only once complete.
public final class VideoWriter {
    public let path: String
    public let width: Int
    public let height: Int
    /// The encoder in use: "libx264" or "mpeg4".
    public let encoderName: String

    private let temporary: String
    private var output: UnsafeMutablePointer<AVFormatContext>?
    private var encoder: UnsafeMutablePointer<AVCodecContext>?
    private let stream: UnsafeMutablePointer<AVStream>
    private let frame: UnsafeMutablePointer<AVFrame>
    private let packet: UnsafeMutablePointer<AVPacket>
    private let scaler: OpaquePointer
    private var framesWritten: Int64 = 0
    private var finished = false

    /// - Parameters:
    ///   - width, height: frame size of the RGB input (odd sizes lose their last column/row).
    ///   - quality: libx264 CRF (lower is better; 18 is visually lossless for most footage).
    public init(path: String, width: Int, height: Int, fps: Double, quality: Int = 18) throws {
        _ = FFmpeg.setUp
        self.path = path
        self.width = width
        self.height = height
        temporary = AtomicFile.temporaryPath(for: path)
        let encodedWidth = max(2, width & ~1), encodedHeight = max(2, height & ~1)
        func fail(_ message: String, _ rc: Int32? = nil) -> VideoIOError {
            VideoIOError(.encoder, message, file: path, cause: rc.map(FFmpeg.cause), ffmpegCode: rc)
        }

        var output: UnsafeMutablePointer<AVFormatContext>? = nil
        var rc = avformat_alloc_output_context2(&output, nil, "mp4", temporary)
        guard rc >= 0, let output else { throw fail("could not create an MP4 muxer", rc) }
        self.output = output

        // Every allocation comes first: a failure among them frees what came before it
        // (`deinit` does not run yet); once all are stored, `deinit` frees them.
        var encoderContext: UnsafeMutablePointer<AVCodecContext>?
        var framePointer: UnsafeMutablePointer<AVFrame>?
        var packetPointer: UnsafeMutablePointer<AVPacket>?
        var scalerPointer: OpaquePointer?
        var stored = false
        defer {
            if !stored {
                sws_freeContext(scalerPointer)
                av_packet_free(&packetPointer)
                av_frame_free(&framePointer)
                avcodec_free_context(&encoderContext)
                avformat_free_context(output)
            }
        }
        let codec = avcodec_find_encoder_by_name("libx264") ?? avcodec_find_encoder(AV_CODEC_ID_MPEG4)
        guard let codec else { throw fail("no H.264 or MPEG-4 encoder in this FFmpeg build") }
        encoderContext = avcodec_alloc_context3(codec)
        guard let encoder = encoderContext else { throw fail("could not allocate an encoder context") }
        guard let stream = avformat_new_stream(output, nil) else {
            throw fail("could not add a video stream to the MP4")
        }
        framePointer = av_frame_alloc()
        guard let frame = framePointer else { throw fail("could not allocate a frame") }
        packetPointer = av_packet_alloc()
        guard let packet = packetPointer else { throw fail("could not allocate a packet") }
        scalerPointer = sws_getContext(
            Int32(width), Int32(height), AV_PIX_FMT_RGB24,
            Int32(encodedWidth), Int32(encodedHeight), AV_PIX_FMT_YUV420P,
            SWS_BICUBIC, nil, nil, nil)
        guard let scaler = scalerPointer else { throw fail("could not create the RGB → YUV converter") }
        self.encoder = encoder
        self.stream = stream
        self.frame = frame
        self.packet = packet
        self.scaler = scaler
        encoderName = String(cString: codec.pointee.name)
        stored = true

        let rate = Rational(approximating: fps)
        encoder.pointee.width = Int32(encodedWidth)
        encoder.pointee.height = Int32(encodedHeight)
        encoder.pointee.time_base = AVRational(num: Int32(rate.denominator), den: Int32(rate.numerator))
        encoder.pointee.framerate = AVRational(num: Int32(rate.numerator), den: Int32(rate.denominator))
        encoder.pointee.pix_fmt = AV_PIX_FMT_YUV420P
        encoder.pointee.gop_size = Int32(max(1, Int(fps.rounded()) * 2))
        encoder.pointee.color_range = AVCOL_RANGE_MPEG
        encoder.pointee.colorspace = AVCOL_SPC_SMPTE170M
        encoder.pointee.color_primaries = AVCOL_PRI_SMPTE170M
        encoder.pointee.color_trc = AVCOL_TRC_SMPTE170M
        if output.pointee.oformat.pointee.flags & AVFMT_GLOBALHEADER != 0 {
            encoder.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER
        }
        var options: OpaquePointer? = nil
        if encoderName == "libx264" {
            av_dict_set(&options, "crf", String(quality), 0)
            av_dict_set(&options, "preset", "fast", 0)
        } else {
            encoder.pointee.flags |= AV_CODEC_FLAG_QSCALE
            encoder.pointee.global_quality = FF_QP2LAMBDA * 3
        }
        rc = avcodec_open2(encoder, codec, &options)
        av_dict_free(&options)
        guard rc >= 0 else { throw fail("could not open the \(encoderName) encoder", rc) }
        avcodec_parameters_from_context(stream.pointee.codecpar, encoder)
        stream.pointee.time_base = encoder.pointee.time_base

        frame.pointee.format = AV_PIX_FMT_YUV420P.rawValue
        frame.pointee.width = Int32(encodedWidth)
        frame.pointee.height = Int32(encodedHeight)
        rc = av_frame_get_buffer(frame, 0)
        guard rc >= 0 else { throw fail("could not allocate a frame", rc) }

        rc = avio_open(&output.pointee.pb, temporary, AVIO_FLAG_WRITE)
        guard rc >= 0 else {
            throw VideoIOError(.io, "could not create the file", file: path, cause: FFmpeg.cause(rc), ffmpegCode: rc)
        }
        rc = avformat_write_header(output, nil)
        guard rc >= 0 else { throw fail("could not write the MP4 header", rc) }
    }

    deinit {
        if !finished { abandon() }
        sws_freeContext(scaler)
        var frame: UnsafeMutablePointer<AVFrame>? = frame
        av_frame_free(&frame)
        var packet: UnsafeMutablePointer<AVPacket>? = packet
        av_packet_free(&packet)
        avcodec_free_context(&encoder)
        if let output {
            if output.pointee.pb != nil { avio_closep(&output.pointee.pb) }
            avformat_free_context(output)
        }
    }

    /// Appends one frame of `height × width × 3` RGB bytes.
    public func append<Bytes: Collection<UInt8>>(rgb: Bytes) throws {
        precondition(!finished, "append after finish")
        guard rgb.count == width * height * 3 else {
            throw VideoIOError(
                .encoder, "a frame must be \(width)×\(height)×3 = \(width * height * 3) bytes, got \(rgb.count)",
                file: path)
        }
        var rc = av_frame_make_writable(frame)
        guard rc >= 0 else { throw VideoIOError(.encoder, "frame not writable", file: path, cause: FFmpeg.cause(rc)) }
        let done: Void? = rgb.withContiguousStorageIfAvailable { buffer in
            var source: [UnsafePointer<UInt8>?] = [buffer.baseAddress, nil, nil, nil]
            var stride: [Int32] = [Int32(width * 3), 0, 0, 0]
            _ = withUnsafeMutablePointer(to: &frame.pointee.data) { data in
                data.withMemoryRebound(to: UnsafeMutablePointer<UInt8>?.self, capacity: 8) { planes in
                    withUnsafeMutablePointer(to: &frame.pointee.linesize) { lines in
                        lines.withMemoryRebound(to: Int32.self, capacity: 8) { lines in
                            sws_scale(scaler, &source, &stride, 0, Int32(height), planes, lines)
                        }
                    }
                }
            }
        }
        if done == nil { return try append(rgb: Array(rgb)) }
        frame.pointee.pts = framesWritten
        framesWritten += 1
        rc = avcodec_send_frame(encoder, frame)
        guard rc >= 0 else {
            throw VideoIOError(.encoder, "encoding failed", file: path, cause: FFmpeg.cause(rc), ffmpegCode: rc)
        }
        try drain()
    }

    /// Flushes the encoder, writes the MP4 index and moves the file into place.
    public func finish() throws {
        guard !finished else { return }
        avcodec_send_frame(encoder, nil)
        try drain()
        var rc = av_write_trailer(output)
        guard rc >= 0 else {
            throw VideoIOError(.encoder, "could not finish the MP4", file: path, cause: FFmpeg.cause(rc))
        }
        rc = avio_closep(&output!.pointee.pb)
        guard rc >= 0 else { throw VideoIOError(.io, "could not close the file", file: path, cause: FFmpeg.cause(rc)) }
        finished = true
        do {
            try AtomicFile.publish(temporary, to: path)
        } catch let error as AtomicFileError {
            throw VideoIOError(.io, error.message, file: path)
        }
    }

    private func drain() throws {
        while true {
            let rc = avcodec_receive_packet(encoder, packet)
            if rc == FFmpeg.eagain || rc == FFmpeg.eof { return }
            guard rc >= 0 else { throw VideoIOError(.encoder, "encoding failed", file: path, cause: FFmpeg.cause(rc)) }
            // Every frame lasts one tick of 1/fps; without it the MP4 edit list ends a frame early.
            if packet.pointee.duration <= 0 { packet.pointee.duration = 1 }
            av_packet_rescale_ts(packet, encoder!.pointee.time_base, stream.pointee.time_base)
            packet.pointee.stream_index = stream.pointee.index
            let written = av_interleaved_write_frame(output, packet)
            guard written >= 0 else {
                throw VideoIOError(.io, "writing the MP4 failed", file: path, cause: FFmpeg.cause(written))
            }
        }
    }

    private func abandon() {
        if let output, output.pointee.pb != nil { avio_closep(&output.pointee.pb) }
        unlink(temporary)
    }
}

/// Encodes `height × width × 3` RGB bytes as PNG (through libavcodec) and writes the
/// file atomically.
public func writePNG<Bytes: Collection<UInt8>>(rgb: Bytes, width: Int, height: Int, to path: String) throws {
    _ = FFmpeg.setUp
    guard rgb.count == width * height * 3 else {
        throw VideoIOError(.encoder, "an image must be \(width)×\(height)×3 bytes, got \(rgb.count)", file: path)
    }
    guard let codec = avcodec_find_encoder(AV_CODEC_ID_PNG) else {
        throw VideoIOError(.encoder, "no PNG encoder in this FFmpeg build", file: path)
    }
    var contextPointer = avcodec_alloc_context3(codec)
    var framePointer = av_frame_alloc()
    var packetPointer = av_packet_alloc()
    defer {
        avcodec_free_context(&contextPointer)
        av_frame_free(&framePointer)
        av_packet_free(&packetPointer)
    }
    func allocationFailed(_ what: String) -> VideoIOError {
        VideoIOError(.encoder, "could not allocate \(what)", file: path)
    }
    guard let context = contextPointer else { throw allocationFailed("a PNG encoder context") }
    guard let frame = framePointer else { throw allocationFailed("a frame") }
    guard let packet = packetPointer else { throw allocationFailed("a packet") }
    context.pointee.width = Int32(width)
    context.pointee.height = Int32(height)
    context.pointee.pix_fmt = AV_PIX_FMT_RGB24
    context.pointee.time_base = AVRational(num: 1, den: 1)
    var rc = avcodec_open2(context, codec, nil)
    guard rc >= 0 else {
        throw VideoIOError(.encoder, "could not open the PNG encoder", file: path, cause: FFmpeg.cause(rc))
    }
    frame.pointee.format = AV_PIX_FMT_RGB24.rawValue
    frame.pointee.width = Int32(width)
    frame.pointee.height = Int32(height)
    rc = av_frame_get_buffer(frame, 0)
    guard rc >= 0 else {
        throw VideoIOError(.encoder, "could not allocate a frame", file: path, cause: FFmpeg.cause(rc))
    }
    let bytes = Array(rgb)
    let stride = Int(frame.pointee.linesize.0)
    bytes.withUnsafeBufferPointer { src in
        for y in 0..<height {
            (frame.pointee.data.0! + y * stride).update(from: src.baseAddress! + y * width * 3, count: width * 3)
        }
    }
    rc = avcodec_send_frame(context, frame)
    if rc >= 0 { rc = avcodec_send_frame(context, nil) }
    if rc >= 0 { rc = avcodec_receive_packet(context, packet) }
    guard rc >= 0 else { throw VideoIOError(.encoder, "PNG encoding failed", file: path, cause: FFmpeg.cause(rc)) }
    do {
        try AtomicFile.write(
            UnsafeRawBufferPointer(start: packet.pointee.data, count: Int(packet.pointee.size)), to: path)
    } catch let error as AtomicFileError {
        throw VideoIOError(.io, error.message, file: path)
    }
}

/// Lays a clip's frames out in a grid (row by row, in time order) so a person can
/// check sampling and cropping at a glance. Returns RGB bytes and the sheet's size.
public func contactSheet(of clip: Clip, columns: Int? = nil, gap: Int = 2) -> (rgb: [UInt8], width: Int, height: Int) {
    contactSheet(
        frames: clip.pixels, count: clip.frameCount, width: clip.width, height: clip.height, columns: columns, gap: gap)
}

/// The same for any `count` RGB frames of `width` × `height` laid out `[T, H, W, 3]`.
public func contactSheet(
    frames pixels: [UInt8], count: Int, width frameWidth: Int, height frameHeight: Int,
    columns: Int? = nil, gap: Int = 2
) -> (rgb: [UInt8], width: Int, height: Int) {
    let cols = max(1, min(count, columns ?? Int(Double(count).squareRoot().rounded(.up))))
    let rows = (count + cols - 1) / cols
    let width = cols * frameWidth + (cols + 1) * gap
    let height = rows * frameHeight + (rows + 1) * gap
    let frameBytes = frameWidth * frameHeight * 3
    var sheet = [UInt8](repeating: 40, count: width * height * 3)
    pixels.withUnsafeBufferPointer { src in
        sheet.withUnsafeMutableBufferPointer { dst in
            for t in 0..<count {
                let x0 = gap + (t % cols) * (frameWidth + gap)
                let y0 = gap + (t / cols) * (frameHeight + gap)
                for y in 0..<frameHeight {
                    let from = src.baseAddress! + t * frameBytes + y * frameWidth * 3
                    (dst.baseAddress! + ((y0 + y) * width + x0) * 3).update(from: from, count: frameWidth * 3)
                }
            }
        }
    }
    return (sheet, width, height)
}
