import CFFmpeg

/// Turns decoded pictures into one bucket's RGB frames: resize so the picture covers
/// the bucket (area filter when shrinking), centre-crop, then rotate for display.
///
/// Two things keep this cheap next to decoding: only the source region that survives
/// the centre crop is scaled (swscale reads the crop through offset plane pointers),
/// and rotation is applied to the small RGB result rather than the full picture.
final class FrameScaler {
    let bucket: Bucket
    /// Clockwise display rotation: 0, 90, 180 or 270.
    let rotation: Int
    private var context: OpaquePointer?
    private var geometry: Geometry?
    private var scratch: UnsafeMutableRawPointer?
    private var scratchBytes = 0

    /// What the scaling context was made for.
    private struct Input: Equatable {
        var width: Int32, height: Int32, format: Int32, colorspace: UInt32, fullRange: Bool
    }

    /// How pictures of one `Input` are cut and scaled.
    private struct Geometry {
        var input: Input
        /// The source region fed to swscale (stored orientation).
        var cropX: Int, cropY: Int, cropWidth: Int, cropHeight: Int
        /// Per plane: bytes per pixel step and chroma shifts, to offset plane pointers to (cropX, cropY).
        var planes: [(plane: Int, step: Int, shiftX: Int, shiftY: Int)]
        /// Size swscale writes; larger than the target only when the crop happens after scaling.
        var scaledWidth: Int, scaledHeight: Int
        var stride: Int
    }

    /// The part of the stored picture that is content (black bars cut off); nil for all of it.
    let region: CropRegion?

    init(bucket: Bucket, rotation: Int, region: CropRegion? = nil) {
        self.bucket = bucket
        self.rotation = rotation
        self.region = region
    }

    deinit {
        sws_freeContext(context)
        scratch?.deallocate()
    }

    /// Bytes of one output frame: height × width × 3.
    var frameBytes: Int { bucket.width * bucket.height * 3 }

    /// Writes `bucket.height × bucket.width × 3` RGB bytes for `frame` at `destination`.
    func convert(_ frame: UnsafeMutablePointer<AVFrame>, into destination: UnsafeMutablePointer<UInt8>) throws {
        let geometry = try prepare(for: frame)
        var planes = [UnsafePointer<UInt8>?](repeating: nil, count: 8)
        var lines = [Int32](repeating: 0, count: 8)
        withUnsafePointer(to: &frame.pointee.data) { data in
            data.withMemoryRebound(to: UnsafeMutablePointer<UInt8>?.self, capacity: 8) { data in
                withUnsafePointer(to: &frame.pointee.linesize) { strides in
                    strides.withMemoryRebound(to: Int32.self, capacity: 8) { strides in
                        for p in 0..<8 {
                            lines[p] = strides[p]
                            planes[p] = data[p].map { UnsafePointer($0) }
                        }
                    }
                }
            }
        }
        for plane in geometry.planes {
            let offset =
                (geometry.cropY >> plane.shiftY) * Int(lines[plane.plane])
                + (geometry.cropX >> plane.shiftX) * plane.step
            planes[plane.plane] = planes[plane.plane].map { $0 + offset }
        }
        var dst: [UnsafeMutablePointer<UInt8>?] = [scratch!.assumingMemoryBound(to: UInt8.self), nil, nil, nil]
        var dstStride: [Int32] = [Int32(geometry.stride), 0, 0, 0]
        let rows = sws_scale(context, planes, lines, 0, Int32(geometry.cropHeight), &dst, &dstStride)
        if rows <= 0 {
            throw VideoIOError(
                .corrupt, "scaling a \(frame.pointee.width)×\(frame.pointee.height) picture failed",
                cause: FFmpeg.cause(rows))
        }
        cropAndRotate(geometry, into: destination)
    }

    /// (Re)creates the scaling context when the input geometry or format changes.
    private func prepare(for frame: UnsafeMutablePointer<AVFrame>) throws -> Geometry {
        var format = frame.pointee.format
        var fullRange = frame.pointee.color_range == AVCOL_RANGE_JPEG
        // The deprecated "J" formats are the plain ones at full range.
        switch AVPixelFormat(rawValue: format) {
        case AV_PIX_FMT_YUVJ420P:
            format = AV_PIX_FMT_YUV420P.rawValue
            fullRange = true
        case AV_PIX_FMT_YUVJ422P:
            format = AV_PIX_FMT_YUV422P.rawValue
            fullRange = true
        case AV_PIX_FMT_YUVJ444P:
            format = AV_PIX_FMT_YUV444P.rawValue
            fullRange = true
        case AV_PIX_FMT_YUVJ440P:
            format = AV_PIX_FMT_YUV440P.rawValue
            fullRange = true
        default: break
        }
        let input = Input(
            width: frame.pointee.width, height: frame.pointee.height, format: format,
            colorspace: frame.pointee.colorspace.rawValue, fullRange: fullRange)
        if let geometry, geometry.input == input, context != nil { return geometry }

        let pixelFormat = AVPixelFormat(rawValue: format)
        let geometry = Self.plan(input, format: pixelFormat, rotation: rotation, bucket: bucket, region: region)
        let needed = geometry.stride * geometry.scaledHeight
        if needed > scratchBytes {
            scratch?.deallocate()
            scratch = UnsafeMutableRawPointer.allocate(byteCount: needed, alignment: 64)
            scratchBytes = needed
        }
        let shrinking = geometry.scaledWidth <= geometry.cropWidth && geometry.scaledHeight <= geometry.cropHeight
        sws_freeContext(context)
        context = sws_getContext(
            Int32(geometry.cropWidth), Int32(geometry.cropHeight), pixelFormat,
            Int32(geometry.scaledWidth), Int32(geometry.scaledHeight), AV_PIX_FMT_RGB24,
            shrinking ? SWS_AREA : SWS_BICUBIC, nil, nil, nil)
        guard let context else {
            let name = av_get_pix_fmt_name(pixelFormat).map { String(cString: $0) } ?? "\(format)"
            throw VideoIOError(.unsupported, "cannot convert pixel format \(name) to RGB")
        }
        // Colour matrix and range from the stream (unspecified → BT.601, FFmpeg's own default).
        // Only YUV input has one: setting it on an RGB → RGB context skews swscale's
        // internal path (a test compares against the ffmpeg CLI for this).
        let isRGB =
            av_pix_fmt_desc_get(pixelFormat).map { $0.pointee.flags & UInt64(AV_PIX_FMT_FLAG_RGB) != 0 } ?? false
        if !isRGB {
            let space = input.colorspace == AVCOL_SPC_UNSPECIFIED.rawValue ? SWS_CS_DEFAULT : Int32(input.colorspace)
            sws_setColorspaceDetails(
                context, sws_getCoefficients(space), fullRange ? 1 : 0,
                sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16, 1 << 16)
        }
        self.geometry = geometry
        return geometry
    }

    /// Decides the source crop and the scaled size for one input shape.
    private static func plan(
        _ input: Input, format: AVPixelFormat, rotation: Int, bucket: Bucket, region: CropRegion?
    ) -> Geometry {
        // Target in the stored orientation.
        let swapped = rotation == 90 || rotation == 270
        let targetWidth = swapped ? bucket.height : bucket.width
        let targetHeight = swapped ? bucket.width : bucket.height
        // A content region that no longer fits (the stream changed size) is ignored.
        let region = region.flatMap {
            $0.x + $0.width <= Int(input.width) && $0.y + $0.height <= Int(input.height) ? $0 : nil
        }
        let sourceWidth = region?.width ?? Int(input.width), sourceHeight = region?.height ?? Int(input.height)
        let scale = max(Double(targetWidth) / Double(sourceWidth), Double(targetHeight) / Double(sourceHeight))
        func fullFrame() -> Geometry {  // the whole stored picture, bars included
            let width = Int(input.width), height = Int(input.height)
            let scale = max(Double(targetWidth) / Double(width), Double(targetHeight) / Double(height))
            let w = max(targetWidth, Int((Double(width) * scale).rounded()))
            let h = max(targetHeight, Int((Double(height) * scale).rounded()))
            return Geometry(
                input: input, cropX: 0, cropY: 0, cropWidth: width, cropHeight: height,
                planes: [], scaledWidth: w, scaledHeight: h, stride: (w * 3 + 63) & ~63)
        }
        // Palette, bit-packed and hardware formats cannot be offset: scale it all, crop after.
        guard let descriptor = av_pix_fmt_desc_get(format)?.pointee,
            descriptor.flags & UInt64(AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_BITSTREAM | AV_PIX_FMT_FLAG_HWACCEL) == 0
        else { return fullFrame() }

        let alignX = 1 << Int(descriptor.log2_chroma_w), alignY = 1 << Int(descriptor.log2_chroma_h)
        var cropWidth = min(sourceWidth, Int((Double(targetWidth) / scale).rounded()))
        var cropHeight = min(sourceHeight, Int((Double(targetHeight) / scale).rounded()))
        var cropX = ((sourceWidth - cropWidth) / 2) / alignX * alignX
        var cropY = ((sourceHeight - cropHeight) / 2) / alignY * alignY
        if cropX == 0 { cropWidth = sourceWidth }  // nothing cut on this axis: keep the picture whole
        if cropY == 0 { cropHeight = sourceHeight }
        if let region {  // offsets into the content region (its origin is even: chroma-aligned)
            cropX += region.x / alignX * alignX
            cropY += region.y / alignY * alignY
        }

        // One pointer offset per plane, from the first component stored in it.
        let components = withUnsafePointer(to: descriptor.comp) {
            $0.withMemoryRebound(to: AVComponentDescriptor.self, capacity: 4) {
                Array(UnsafeBufferPointer(start: $0, count: 4))
            }
        }
        var planes: [(plane: Int, step: Int, shiftX: Int, shiftY: Int)] = []
        for c in 0..<Int(descriptor.nb_components)
        where !planes.contains(where: { $0.plane == Int(components[c].plane) }) {
            let chroma = c == 1 || c == 2
            planes.append(
                (
                    Int(components[c].plane), Int(components[c].step),
                    chroma ? Int(descriptor.log2_chroma_w) : 0, chroma ? Int(descriptor.log2_chroma_h) : 0
                ))
        }
        return Geometry(
            input: input, cropX: cropX, cropY: cropY, cropWidth: cropWidth, cropHeight: cropHeight,
            planes: planes, scaledWidth: targetWidth, scaledHeight: targetHeight,
            stride: (targetWidth * 3 + 63) & ~63)
    }

    /// Copies the centred target region of the scaled picture, rotated for display.
    private func cropAndRotate(_ geometry: Geometry, into destination: UnsafeMutablePointer<UInt8>) {
        let swapped = rotation == 90 || rotation == 270
        let cw = swapped ? bucket.height : bucket.width  // crop size, stored orientation
        let ch = swapped ? bucket.width : bucket.height
        let stride = geometry.stride
        let x0 = (geometry.scaledWidth - cw) / 2, y0 = (geometry.scaledHeight - ch) / 2
        let source = scratch!.assumingMemoryBound(to: UInt8.self) + y0 * stride + x0 * 3
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
                    out[x * 3] = p[0]
                    out[x * 3 + 1] = p[1]
                    out[x * 3 + 2] = p[2]
                }
            }
        case 90:
            // Display (x, y) shows stored (y, ch − 1 − x).
            for y in 0..<outHeight {
                let out = destination + y * outWidth * 3
                for x in 0..<outWidth {
                    let p = source + (ch - 1 - x) * stride + y * 3
                    out[x * 3] = p[0]
                    out[x * 3 + 1] = p[1]
                    out[x * 3 + 2] = p[2]
                }
            }
        default:  // 270
            // Display (x, y) shows stored (cw − 1 − y, x).
            for y in 0..<outHeight {
                let out = destination + y * outWidth * 3
                for x in 0..<outWidth {
                    let p = source + x * stride + (cw - 1 - y) * 3
                    out[x * 3] = p[0]
                    out[x * 3 + 1] = p[1]
                    out[x * 3 + 2] = p[2]
                }
            }
        }
    }
}
