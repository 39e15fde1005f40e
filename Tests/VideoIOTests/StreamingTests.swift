import Foundation
import Testing
import VideoIO

@Suite("Streaming with bounded memory")
struct StreamingTests {
    func peak(seconds: Double, stride: Int? = nil) throws -> (bytes: Int, clips: Int, clipBytes: Int) {
        let path = try Fixtures.make(
            "long-\(Int(seconds))s.mp4",
            [
                "-f", "lavfi", "-i",
                "testsrc2=size=320x240:rate=30:duration=\(seconds)", "-c:v", "libx264", "-preset", "ultrafast",
                "-pix_fmt", "yuv420p",
            ])
        let reader = try ClipReader(
            path: path,
            configuration: ClipConfiguration(
                stride: stride, buckets: BucketPolicy(sizes: [128])), logger: Fixtures.quietLogger)
        var clips = 0
        var clipBytes = 0
        while let clip = try reader.next() {  // pulled one at a time, as the daemon does
            clips += 1
            clipBytes = clip.pixels.count
        }
        return (try #require(reader.outcome).peakBufferedBytes, clips, clipBytes)
    }

    @Test("a 4× longer source holds no more pixels at once: one clip window")
    func boundedByClipNotFile() throws {
        let short = try peak(seconds: 10)
        let long = try peak(seconds: 40)
        #expect(long.clips >= 4 * short.clips - 1)
        #expect(long.bytes == short.bytes)
        // The window being filled plus the finished clip handed to the caller.
        #expect(long.bytes <= 2 * long.clipBytes)
    }

    @Test("overlapping clips hold ⌈T / stride⌉ windows, not more")
    func overlappingWindows() throws {
        let result = try peak(seconds: 10, stride: 4)  // 17-frame clips every 4 frames: 5 open windows
        #expect(result.bytes <= 6 * result.clipBytes)
        #expect(result.clips == (80 - 17) / 4 + 1)
    }
}
