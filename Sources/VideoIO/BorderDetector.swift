import CFFmpeg
import Logging

/// The part of a stored picture that is content: what is left after constant black bars.
public struct CropRegion: Sendable, Equatable, Codable, CustomStringConvertible {
    public var x: Int, y: Int, width: Int, height: Int

    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    /// "1920×800+0+140": FFmpeg's crop notation (size, then offset).
    public var description: String { "\(width)×\(height)+\(x)+\(y)" }
}

/// Finds constant letterbox and pillarbox bars, the way FFmpeg's `cropdetect` does, but from a
/// handful of pictures: it seeks to three points of the file (15 %, 50 %, 85 %), decodes two
/// pictures at each, and keeps the dark rows and columns every informative picture shares.
///
/// Seeking instead of reading the start costs a few pictures per file whatever its length,
/// and it does not mistake a black intro for bars (all-dark pictures carry no information and
/// are skipped). Bars must frame the picture: roughly as wide on both sides of an axis. It works
/// on the luma plane of 8-bit YUV pictures; other formats, rotated
/// streams and files that cannot seek are left uncropped.
enum BorderDetector {
    /// A row or column is a bar when its mean luma is at most this and no sample exceeds `peak`
    /// (limited-range black is 16; encoders add a few levels of noise).
    static let dark = 24
    static let peak = 40

    static func detect(path: String, limits: VideoIOLimits, logger: Logger) -> CropRegion? {
        guard let file = try? MediaFile(path: path, limits: limits), !file.info.isStillImage, file.info.rotation == 0,
            let duration = file.info.duration, duration > 0,
            let decoder = try? VideoDecoder(file: file, threads: 1, strict: false)
        else { return nil }
        var bars: (top: Int, bottom: Int, left: Int, right: Int)? = nil
        var informative = 0
        var width = 0, height = 0
        for point in [0.15, 0.5, 0.85] {
            guard decoder.seek(toSeconds: duration * point) else { return nil }
            for _ in 0..<2 {
                guard let picture = try? decoder.next() else { break }
                guard let found = Self.bars(in: picture) else { continue }
                width = Int(picture.pointee.width)
                height = Int(picture.pointee.height)
                informative += 1
                bars =
                    bars.map {
                        (
                            min($0.top, found.top), min($0.bottom, found.bottom), min($0.left, found.left),
                            min($0.right, found.right)
                        )
                    } ?? found
            }
        }
        guard informative >= 2, var bars, width == file.info.width, height == file.info.height else { return nil }
        // Bars thinner than 2 % are encoder padding or a soft edge, not letterboxing; bars on one
        // side only are dark content (a gradient, a night sky), not a box around the picture.
        func isBox(_ a: Int, _ b: Int, side: Int) -> Bool {
            a + b >= side / 50 && abs(a - b) <= max(4, max(a, b) / 4)
        }
        if !isBox(bars.top, bars.bottom, side: height) { (bars.top, bars.bottom) = (0, 0) }
        if !isBox(bars.left, bars.right, side: width) { (bars.left, bars.right) = (0, 0) }
        // Even offsets and sizes keep 4:2:0 chroma aligned.
        let x = (bars.left + 1) & ~1, y = (bars.top + 1) & ~1
        let w = (width - x - bars.right) & ~1, h = (height - y - bars.bottom) & ~1
        guard x + y > 0 || w < width || h < height else { return nil }
        guard w >= width * 2 / 5, h >= height * 2 / 5 else {
            logger.debug("borders too wide to trust; not cropping", metadata: ["file": "\(path)"])
            return nil
        }
        return CropRegion(x: x, y: y, width: w, height: h)
    }

    /// Dark rows at the top and bottom and dark columns at the left and right of one picture;
    /// nil when the picture is not 8-bit YUV or is dark all over (it says nothing about bars).
    static func bars(in picture: UnsafeMutablePointer<AVFrame>) -> (top: Int, bottom: Int, left: Int, right: Int)? {
        guard let descriptor = av_pix_fmt_desc_get(AVPixelFormat(picture.pointee.format))?.pointee,
            descriptor.flags
                & UInt64(
                    AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_BITSTREAM | AV_PIX_FMT_FLAG_HWACCEL)
                == 0,
            descriptor.nb_components >= 3, descriptor.comp.0.depth == 8, descriptor.comp.0.plane == 0,
            descriptor.comp.0.step == 1, let luma = picture.pointee.data.0
        else { return nil }
        let width = Int(picture.pointee.width), height = Int(picture.pointee.height)
        let stride = Int(picture.pointee.linesize.0)
        guard width >= 16, height >= 16, stride > 0 else { return nil }
        func isDark(count: Int, _ sample: (Int) -> Int) -> Bool {
            var sum = 0
            for i in Swift.stride(from: 0, to: count, by: 2) {
                let v = sample(i)
                if v > peak { return false }
                sum += v
            }
            return sum <= dark * ((count + 1) / 2)
        }
        func darkRow(_ y: Int) -> Bool { isDark(count: width) { Int(luma[y * stride + $0]) } }
        func darkColumn(_ x: Int) -> Bool { isDark(count: height) { Int(luma[$0 * stride + x]) } }
        var top = 0
        while top < height && darkRow(top) { top += 1 }
        guard top < height else { return nil }  // dark all over
        var bottom = 0
        while bottom < height - top && darkRow(height - 1 - bottom) { bottom += 1 }
        var left = 0
        while left < width && darkColumn(left) { left += 1 }
        var right = 0
        while right < width - left && darkColumn(width - 1 - right) { right += 1 }
        return (top, bottom, left, right)
    }
}
