import Foundation
import Testing
import VideoIO

@Suite("MP4 and PNG writers")
struct WriterTests {
    func temporaryFolder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("videoar-writer-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test("a clip written as MP4 reads back with its size, frame count and frames")
    func mp4RoundTrip() throws {
        let source = try Fixtures.make(
            "cfr30-bframes.mp4",
            Fixtures.pattern(width: 192, height: 144, seconds: 6)
                + ["-c:v", "libx264", "-bf", "3", "-crf", "12", "-pix_fmt", "yuv420p"])
        let clip = try #require(
            try ClipReader(
                path: source,
                configuration: ClipConfiguration(
                    buckets: BucketPolicy(sizes: [128])), logger: Fixtures.quietLogger
            ).next())
        let folder = try temporaryFolder()
        let path = folder + "/clip.mp4"
        let writer = try VideoWriter(path: path, width: clip.width, height: clip.height, fps: clip.fps)
        #expect(writer.encoderName == "libx264" || writer.encoderName == "mpeg4")
        for t in 0..<clip.frameCount { try writer.append(rgb: clip.frame(t)) }
        #expect(!FileManager.default.fileExists(atPath: path), "nothing under the final name before finish")
        try writer.finish()
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["clip.mp4"])

        let info = try probe(path)
        #expect(info.width == clip.width && info.height == clip.height)
        #expect(info.frameCount == 17)
        #expect(info.averageFrameRate == 8)
        // Reading it back at its own rate gives the same frame indices.
        let back = try #require(
            try ClipReader(
                path: path,
                configuration: ClipConfiguration(
                    buckets: BucketPolicy(sizes: [128])), logger: Fixtures.quietLogger
            ).next())
        for t in 0..<17 {
            #expect(
                Fixtures.index(in: back, frame: t, sourceWidth: clip.width, sourceHeight: clip.height)
                    == Fixtures.index(in: clip, frame: t, sourceWidth: 192, sourceHeight: 144))
        }
    }

    @Test("an abandoned writer leaves no file behind")
    func abandoned() throws {
        let folder = try temporaryFolder()
        do {
            let writer = try VideoWriter(path: folder + "/never.mp4", width: 64, height: 64, fps: 8)
            try writer.append(rgb: [UInt8](repeating: 128, count: 64 * 64 * 3))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty)
    }

    @Test("a wrong-sized frame is an error, not a crash")
    func wrongSize() throws {
        let writer = try VideoWriter(path: try temporaryFolder() + "/x.mp4", width: 64, height: 64, fps: 8)
        #expect(throws: VideoIOError.self) { try writer.append(rgb: [UInt8](repeating: 0, count: 10)) }
    }

    @Test("PNG is lossless: a written image decodes to the same pixels")
    func pngLossless() throws {
        let width = 48, height = 32
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        for i in rgb.indices { rgb[i] = UInt8((i * 37) % 251) }
        let path = try temporaryFolder() + "/image.png"
        try writePNG(rgb: rgb, width: width, height: height, to: path)
        let info = try probe(path)
        #expect(info.isStillImage && info.width == width && info.height == height)
        // Read back at its own size (a 3:2 bucket of 48×32): the pixels are the same bytes.
        let reader = try ClipReader(
            path: path,
            configuration: ClipConfiguration(
                buckets: BucketPolicy(sizes: [39], aspectRatios: [AspectRatio(3, 2)])), logger: Fixtures.quietLogger)
        let back = try #require(try reader.next())
        #expect(back.width == width && back.height == height)
        #expect(back.pixels == rgb)
    }

    @Test("a contact sheet lays frames out in time order")
    func contactSheetLayout() throws {
        let bucket = Bucket(size: 16, aspect: AspectRatio(1, 1))
        var pixels: [UInt8] = []
        for t in 0..<5 { pixels += [UInt8](repeating: UInt8(t * 50), count: 16 * 16 * 3) }
        let clip = Clip(
            source: "x", bucket: bucket, index: 0, fps: 8, pixels: pixels,
            targetTimes: (0..<5).map { Double($0) / 8 }, frameTimes: (0..<5).map { Double($0) / 8 })
        let sheet = contactSheet(of: clip, columns: 3, gap: 2)
        let expectedWidth = 3 * 16 + 4 * 2, expectedHeight = 2 * 16 + 3 * 2
        #expect(sheet.width == expectedWidth)
        #expect(sheet.height == expectedHeight)
        func value(_ x: Int, _ y: Int) -> UInt8 { sheet.rgb[(y * sheet.width + x) * 3] }
        #expect(value(2 + 8, 2 + 8) == 0)  // frame 0, top-left
        #expect(value(2 + 2 * 18 + 8, 2 + 8) == 100)  // frame 2, top-right
        #expect(value(2 + 18 + 8, 2 + 18 + 8) == 200)  // frame 4, second row, middle
    }
}
