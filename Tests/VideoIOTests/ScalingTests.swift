import Foundation
import Testing
import VideoIO

/// Our resize + centre-crop must give the picture FFmpeg's own filters give.
@Suite("Resize and crop match the ffmpeg CLI")
struct ScalingTests {
    @Test(
        "16:9 into a square bucket, across pixel formats",
        arguments: [
            ("crop-yuv420p.mp4", ["-c:v", "libx264", "-crf", "8", "-pix_fmt", "yuv420p"]),
            ("crop-yuv422p10.mkv", ["-c:v", "ffv1", "-pix_fmt", "yuv422p10le"]),
            ("crop-gray.mkv", ["-c:v", "ffv1", "-pix_fmt", "gray"]),
            ("crop-nv12.nut", ["-c:v", "rawvideo", "-pix_fmt", "nv12"]),
            ("crop-rgb24.mkv", ["-c:v", "ffv1", "-pix_fmt", "bgr0"]),
            ("crop-pal8.gif", ["-pix_fmt", "pal8"]),
        ])
    func matchesFFmpeg(name: String, codec: [String]) throws {
        let path = try Fixtures.make(name, ["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=10:duration=1"] + codec)
        let reader = try ClipReader(
            path: path,
            configuration: ClipConfiguration(
                frames: 1, buckets: BucketPolicy(sizes: [128], aspectRatios: [AspectRatio(1, 1)])),
            logger: Fixtures.quietLogger)
        let clip = try #require(try reader.next())
        #expect(clip.width == 128 && clip.height == 128)

        let reference = [UInt8](
            try Fixtures.runData(
                "ffmpeg",
                [
                    "-v", "error", "-i", path, "-frames:v", "1",
                    "-vf", "scale=-2:128:flags=area,crop=128:128", "-pix_fmt", "rgb24", "-f", "rawvideo", "-",
                ]))
        try #require(reference.count == clip.frameBytes)
        var total = 0
        for i in 0..<reference.count { total += abs(Int(reference[i]) - Int(clip.pixels[i])) }
        let meanError = Double(total) / Double(reference.count)
        // Rounding of the crop origin and colour-conversion paths differ slightly; a wrong
        // crop, orientation or colour matrix gives errors of tens of levels.
        #expect(meanError < 4, "mean absolute difference \(meanError) levels")
    }
}
