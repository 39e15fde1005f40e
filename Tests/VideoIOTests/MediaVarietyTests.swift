import Foundation
import Testing
import VideoIO

@Suite("Probe and clips across the media people actually have")
struct MediaVarietyTests {
    static func h264(
        _ name: String, width: Int = 192, height: Int = 144, seconds: Double = 3,
        extra: [String] = []
    ) throws -> String {
        try Fixtures.make(
            name,
            Fixtures.pattern(width: width, height: height, seconds: seconds)
                + ["-c:v", "libx264", "-crf", "12", "-pix_fmt", "yuv420p"] + extra)
    }

    func reader(_ path: String, sizes: [Int] = [128], frames: Int = 17, maxUpscale: Double = 1) throws -> ClipReader {
        try ClipReader(
            path: path,
            configuration: ClipConfiguration(
                frames: frames, buckets: BucketPolicy(sizes: sizes, maxUpscale: maxUpscale)),
            logger: Fixtures.quietLogger)
    }

    @Test("the best video stream is found when audio comes first")
    func audioFirst() throws {
        let path = try Fixtures.make(
            "audio-first.mp4",
            Fixtures.pattern(width: 192, height: 144, seconds: 3)
                + [
                    "-f", "lavfi", "-i", "sine=frequency=440:duration=3",
                    "-map", "1:a", "-map", "0:v", "-c:a", "aac", "-c:v", "libx264", "-crf", "12", "-pix_fmt", "yuv420p",
                ])
        let info = try probe(path)
        #expect(info.videoStream == 1)
        #expect(info.hasAudio)
        #expect(info.codec == "h264")
        #expect(info.width == 192 && info.height == 144)
        #expect(info.averageFrameRate == 30)
        #expect(abs((info.duration ?? 0) - 3) < 0.05)
        #expect(info.frameCount == 90)
        let clips = try reader(path).readAll()
        #expect(clips.count == 1)
        #expect(Fixtures.index(in: clips[0], frame: 16, sourceWidth: 192, sourceHeight: 144) == 60)
    }

    /// Where the red marker drawn at the stored top-left ends up on screen.
    enum Corner: String, CaseIterable { case topLeft, topRight, bottomRight, bottomLeft }

    /// The corner holding the red marker in a `width`×`height` RGB picture, if any.
    static func markerCorner(width: Int, height: Int, pixel: (Int, Int) -> (Int, Int, Int)) -> [Corner] {
        let spots: [(Corner, Int, Int)] = [
            (.topLeft, 3, 3), (.topRight, width - 4, 3),
            (.bottomRight, width - 4, height - 4), (.bottomLeft, 3, height - 4),
        ]
        return spots.filter { _, x, y in
            let (r, g, _) = pixel(x, y)
            return r > 180 && g < 80
        }.map(\.0)
    }

    @Test(
        "rotation from the display matrix is applied first, as FFmpeg's own player does", arguments: [0, 90, 180, 270])
    func rotation(tag: Int) throws {
        let plain = try Self.h264("rotation-source.mp4", width: 320, height: 240)
        let path = try Fixtures.make(
            "rotated-\(tag).mp4", ["-i", plain, "-c", "copy", "-metadata:s:v:0", "rotate=\(tag)"])

        // The oracle: ffmpeg's CLI applies the display matrix itself (autorotate).
        let sideData = try Fixtures.run(
            "ffprobe",
            [
                "-v", "error", "-select_streams", "v:0", "-show_entries",
                "stream_side_data=rotation", "-of", "csv=p=0", path,
            ])
        let counterClockwise = Int(sideData.split(whereSeparator: { !$0.isNumber && $0 != "-" }).first ?? "0") ?? 0
        let expectedRotation = ((-counterClockwise) % 360 + 360) % 360
        let raw = try Fixtures.runData(
            "ffmpeg",
            [
                "-v", "error", "-i", path, "-frames:v", "1",
                "-f", "rawvideo", "-pix_fmt", "rgb24", "-",
            ])
        let portrait = expectedRotation == 90 || expectedRotation == 270
        let (fw, fh) = portrait ? (240, 320) : (320, 240)
        #expect(raw.count == fw * fh * 3)
        let bytes = [UInt8](raw)
        let expectedCorner = Self.markerCorner(width: fw, height: fh) { x, y in
            let o = (y * fw + x) * 3
            return (Int(bytes[o]), Int(bytes[o + 1]), Int(bytes[o + 2]))
        }
        #expect(expectedCorner.count == 1)

        let info = try probe(path)
        #expect(info.rotation == expectedRotation)
        #expect(info.width == fw && info.height == fh)
        #expect(info.codedWidth == 320 && info.codedHeight == 240)

        let clip = try #require(try reader(path).next())
        #expect(clip.bucket.aspect == (portrait ? AspectRatio(3, 4) : AspectRatio(4, 3)))
        let seen = Self.markerCorner(width: clip.width, height: clip.height) { Fixtures.rgb(clip, 0, $0, $1) }
        #expect(seen == expectedCorner, "tag \(tag): rotation \(info.rotation)")
    }

    @Test("odd frame sizes: 176×144 fits 128; 33×17 fits nothing without enlargement")
    func oddSizes() throws {
        let qcif = try Self.h264("qcif.mp4", width: 176, height: 144)
        let clips = try reader(qcif).readAll()
        #expect(clips.first?.bucket == Bucket(size: 128, aspect: AspectRatio(4, 3)))
        #expect(Fixtures.index(in: clips[0], frame: 8, sourceWidth: 176, sourceHeight: 144) == 30)

        let tiny = try Fixtures.make(
            "tiny-33x17.mkv",
            Fixtures.pattern(width: 33, height: 17, seconds: 3)
                + ["-c:v", "ffv1", "-pix_fmt", "yuv444p"])
        let info = try probe(tiny)
        #expect(info.width == 33 && info.height == 17)
        let strict = try reader(tiny)
        #expect(try strict.next() == nil)
        #expect(strict.outcome?.noClipReason?.contains("no bucket fits") == true)

        let enlarged = try reader(tiny, maxUpscale: 8)
        let clip = try #require(try enlarged.next())
        #expect(clip.bucket.aspect == AspectRatio(16, 9))  // 33:17 ≈ 1.94 is nearest 16:9
    }

    @Test(
        "gray and 10-bit sources decode to the right frames",
        arguments: [
            ("gray.mkv", ["-c:v", "ffv1", "-pix_fmt", "gray"]),
            ("gray10.mkv", ["-c:v", "ffv1", "-pix_fmt", "gray10le"]),
            ("10bit.mp4", ["-c:v", "libx264", "-crf", "10", "-pix_fmt", "yuv420p10le"]),
            ("10bit.mkv", ["-c:v", "ffv1", "-pix_fmt", "yuv422p10le"]),
        ])
    func grayAndDeep(name: String, codec: [String]) throws {
        let path = try Fixtures.make(name, Fixtures.pattern(width: 192, height: 144, seconds: 3) + codec)
        let info = try probe(path)
        #expect(info.pixelFormat.contains("gray") || info.pixelFormat.contains("10"))
        let clip = try #require(try reader(path).next())
        for t in [0, 5, 16] {
            #expect(
                Fixtures.index(in: clip, frame: t, sourceWidth: 192, sourceHeight: 144)
                    == Fixtures.expectedIndex(slot: t, fps: 8, pts: (0..<90).map { Int64($0) }, timeBase: (1, 30)))
        }
    }

    @Test(
        "still images are 1-frame media and give one 1-frame clip per bucket", arguments: ["png", "jpg", "webp", "bmp"])
    func stillImage(ext: String) throws {
        let path = try Fixtures.make(
            "still.\(ext)",
            Fixtures.pattern(width: 320, height: 240, seconds: 1)
                + ["-frames:v", "1", "-update", "1"])
        let info = try probe(path)
        #expect(info.isStillImage)
        #expect(info.frameCount == 1)
        #expect(info.width == 320 && info.height == 240)
        let r = try reader(path, sizes: [128, 256])
        let clips = try r.readAll()
        #expect(clips.count == 2)
        #expect(clips.allSatisfy { $0.frameCount == 1 })
        let (red, green, _) = Fixtures.rgb(clips[0], 0, 2, 2)
        #expect(red > 180 && green < 80)
    }

    @Test("a 3-frame video is too short: no clip and a clear reason")
    func tooShort() throws {
        let path = try Fixtures.make(
            "three-frames.mp4",
            Fixtures.pattern(width: 192, height: 144, seconds: 1)
                + ["-frames:v", "3", "-c:v", "libx264", "-pix_fmt", "yuv420p"])
        #expect(try probe(path).frameCount == 3)
        let r = try reader(path)
        #expect(try r.next() == nil)
        let reason = try #require(r.outcome?.noClipReason)
        #expect(reason.contains("too short") && reason.contains("17"))
        #expect(r.outcome?.damage == nil)
    }

    @Test("frames must be 1 + 4k")
    func badFrameCount() throws {
        let path = try Self.h264("qcif.mp4", width: 176, height: 144)
        #expect(throws: VideoIOError.self) { try reader(path, frames: 16) }
    }
}
