import CFFmpeg

/// Turns decoded pictures into one bucket's RGB frames: resize so the picture covers
/// the bucket (area filter when shrinking), centre-crop, then rotate for display.
///
/// Scaling happens in the stored orientation and the rotation is applied to the small
/// RGB result, which costs a few hundred microseconds instead of rotating the full
/// source picture.
final class FrameScaler {
    let bucket: Bucket
    /// Clockwise display rotation: 0, 90, 180 or 270.
    let rotation: Int
    private var context: OpaquePointer?
    private var key: Key?
    private var scratch: UnsafeMutableRawPointer?
    private var scratchBytes = 0
    private var scaledWidth = 0, scaledHeight = 0, scratchStride = 0

    private struct Key: Equatable {
        var width: Int32, height: Int32, format: Int32, colorspace: UInt32, fullRange: Bool
    }

    init(bucket: Bucket, rotation: Int) {
        self.bucket = bucket
        self.rotation = rotation
    }

    deinit {
        sws_freeContext(context)
        scratch?.deallocate()
    }

    /// Bytes of one output frame: height × width × 3.
    var frameBytes: Int { bucket.width * bucket.height * 3 }

    /// Writes `bucket.height × bucket.width × 3` RGB bytes for `frame` at `destination`.
    func convert(_ frame: UnsafeMutablePointer<AVFrame>, into destination: UnsafeMutablePointer<UInt8>) throws {
        try prepare(for: frame)
        var dst: [UnsafeMutablePointer<UInt8>?] = [scratch!.assumingMemoryBound(to: UInt8.self), nil, nil, nil]
        var dstStride: [Int32] = [Int32(scratchStride), 0, 0, 0]
        let rows = withUnsafePointer(to: &frame.pointee.data) { data in
            data.withMemoryRebound(to: UnsafePointer<UInt8>?.self, capacity: 8) { planes in
                withUnsafePointer(to: &frame.pointee.linesize) { strides in
                    strides.withMemoryRebound(to: Int32.self, capacity: 8) { lines in
                        sws_scale(context, planes, lines, 0, frame.pointee.height, &dst, &dstStride)
                    }
                }
            }
        }
        if rows <= 0 {
            throw VideoIOError(.corrupt, "scaling a \(frame.pointee.width)×\(frame.pointee.height) picture failed",
                               cause: FFmpeg.cause(rows))
        }
        cropAndRotate(into: destination)
    }

    /// (Re)creates the scaling context when the input geometry or format changes.
    private func prepare(for frame: UnsafeMutablePointer<AVFrame>) throws {
        var format = frame.pointee.format
        var fullRange = frame.pointee.color_range == AVCOL_RANGE_JPEG
        // The deprecated "J" formats are the plain ones at full range.
        switch AVPixelFormat(rawValue: format) {
        case AV_PIX_FMT_YUVJ420P: format = AV_PIX_FMT_YUV420P.rawValue; fullRange = true
        case AV_PIX_FMT_YUVJ422P: format = AV_PIX_FMT_YUV422P.rawValue; fullRange = true
        case AV_PIX_FMT_YUVJ444P: format = AV_PIX_FMT_YUV444P.rawValue; fullRange = true
        case AV_PIX_FMT_YUVJ440P: format = AV_PIX_FMT_YUV440P.rawValue; fullRange = true
        default: break
        }
        let newKey = Key(width: frame.pointee.width, height: frame.pointee.height, format: format,
                         colorspace: frame.pointee.colorspace.rawValue, fullRange: fullRange)
        if newKey == key, context != nil { return }

        // Target in the stored orientation.
        let swapped = rotation == 90 || rotation == 270
        let targetWidth = swapped ? bucket.height : bucket.width
        let targetHeight = swapped ? bucket.width : bucket.height
        let sourceWidth = Int(newKey.width), sourceHeight = Int(newKey.height)
        let scale = max(Double(targetWidth) / Double(sourceWidth), Double(targetHeight) / Double(sourceHeight))
        scaledWidth = max(targetWidth, Int((Double(sourceWidth) * scale).rounded()))
        scaledHeight = max(targetHeight, Int((Double(sourceHeight) * scale).rounded()))
        scratchStride = (scaledWidth * 3 + 63) & ~63
        let needed = scratchStride * scaledHeight
        if needed > scratchBytes {
            scratch?.deallocate()
            scratch = UnsafeMutableRawPointer.allocate(byteCount: needed, alignment: 64)
            scratchBytes = needed
        }
        let flags = scale < 1 ? SWS_AREA : SWS_BICUBIC
        sws_freeContext(context)
        context = sws_getContext(newKey.width, newKey.height, AVPixelFormat(rawValue: format),
                                 Int32(scaledWidth), Int32(scaledHeight), AV_PIX_FMT_RGB24,
                                 flags, nil, nil, nil)
        guard let context else {
            let name = av_get_pix_fmt_name(AVPixelFormat(rawValue: format)).map { String(cString: $0) } ?? "\(format)"
            throw VideoIOError(.unsupported, "cannot convert pixel format \(name) to RGB")
        }
        // Colour matrix from the stream (unspecified → BT.601, as FFmpeg's own default).
        let space = newKey.colorspace == AVCOL_SPC_UNSPECIFIED.rawValue ? SWS_CS_DEFAULT : Int32(newKey.colorspace)
        let coefficients = sws_getCoefficients(space)
        sws_setColorspaceDetails(context, coefficients, fullRange ? 1 : 0,
                                 sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16, 1 << 16)
        key = newKey
    }

    /// Copies the centred target region of the scaled picture, rotated for display.
    private func cropAndRotate(into destination: UnsafeMutablePointer<UInt8>) {
        let swapped = rotation == 90 || rotation == 270
        let cw = swapped ? bucket.height : bucket.width   // crop size, stored orientation
        let ch = swapped ? bucket.width : bucket.height
        let x0 = (scaledWidth - cw) / 2, y0 = (scaledHeight - ch) / 2
        let source = scratch!.assumingMemoryBound(to: UInt8.self) + y0 * scratchStride + x0 * 3
        let stride = scratchStride
        let outWidth = bucket.width, outHeight = bucket.height
        switch rotation {
        case 0:
            for y in 0..<ch {
                (destination + y * outWidth * 3).update(from: source + y * stride, count: cw * 3)
            }
        case 180:
            for y in 0..<outHeight {
                let row = source + (ch - 1 - y) * stride
                let out = destination + y * outWidth * 3
                for x in 0..<outWidth {
                    let p = row + (cw - 1 - x) * 3
                    out[x * 3] = p[0]; out[x * 3 + 1] = p[1]; out[x * 3 + 2] = p[2]
                }
            }
        case 90:
            // Display (x, y) shows stored (y, ch − 1 − x).
            for y in 0..<outHeight {
                let out = destination + y * outWidth * 3
                for x in 0..<outWidth {
                    let p = source + (ch - 1 - x) * stride + y * 3
                    out[x * 3] = p[0]; out[x * 3 + 1] = p[1]; out[x * 3 + 2] = p[2]
                }
            }
        default: // 270
            // Display (x, y) shows stored (cw − 1 − y, x).
            for y in 0..<outHeight {
                let out = destination + y * outWidth * 3
                for x in 0..<outWidth {
                    let p = source + x * stride + (cw - 1 - y) * 3
                    out[x * 3] = p[0]; out[x * 3 + 1] = p[1]; out[x * 3 + 2] = p[2]
                }
            }
        }
    }
}
