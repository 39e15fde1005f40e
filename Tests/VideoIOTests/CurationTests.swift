import Foundation
import Testing
import TestSupport
import VideoIO

/// Scene cuts, dead-content scores and perceptual hashes, measured while cutting clips.
@Suite("Curation while cutting clips")
struct CurationTests {
    static func cutVideo(_ folder: String) throws -> String { try CurationFixtures.cut(in: folder) }

    static func clips(_ path: String, _ configuration: ClipConfiguration) throws -> ([Clip], ClipReader.Outcome) {
        let reader = try ClipReader(path: path, configuration: configuration, logger: Fixtures.quietLogger)
        let clips = try reader.readAll()
        return (clips, try #require(reader.outcome))
    }

    static let small = ClipConfiguration(frames: 9, buckets: BucketPolicy(sizes: [128]))

    @Test("a hard cut is found, stored in the outcome, and no clip spans it: clips restart after it")
    func noClipAcrossACut() throws {
        let path = try Self.cutVideo(try temporaryFolder("curation-cut"))
        let (clips, outcome) = try Self.clips(path, Self.small)
        #expect(outcome.cuts.count == 1)
        let cut = try #require(outcome.cuts.first)
        #expect(abs(cut - 3) < 0.05)
        #expect(clips.count == 4)  // 2 per shot: 24 frames at 8 fps = 2 × 9 + a 6-frame tail each
        for clip in clips {
            #expect(clip.frameTimes.allSatisfy { $0 < cut } || clip.frameTimes.allSatisfy { $0 >= cut })
            #expect(clip.quality?.singleShot == true)
        }
        #expect(clips.map(\.index) == [0, 1, 2, 3])  // indices stay dense across the restart
        #expect(abs(clips[2].startTime - cut) < 0.13)  // the first clip of the second shot starts at the cut
    }

    @Test("with split_at_cuts off the grid runs on and the clip across the cut is marked")
    func unsplitClipIsMarked() throws {
        let path = try Self.cutVideo(try temporaryFolder("curation-unsplit"))
        var configuration = Self.small
        configuration.splitAtCuts = false
        let (clips, outcome) = try Self.clips(path, configuration)
        #expect(outcome.cuts.count == 1)
        let spanning = clips.filter { $0.quality?.singleShot == false }
        #expect(spanning.count == 1)
        #expect(spanning.first.map { $0.startTime < 3 && $0.endTime > 3 } == true)
    }

    @Test("continuous real-looking motion (a moving pattern, a zoom) is not cut")
    func noFalseCuts() throws {
        let folder = try temporaryFolder("curation-motion")
        let path = folder + "/motion.mp4"
        try runTool(
            "ffmpeg",
            [
                "-v", "error", "-y", "-f", "lavfi", "-i", "mandelbrot=size=320x240:rate=25",
                "-vf", "trim=duration=6,setpts=PTS-STARTPTS", "-c:v", "libx264", "-preset", "ultrafast",
                "-pix_fmt", "yuv420p", path,
            ])
        let (_, outcome) = try Self.clips(path, Self.small)
        #expect(outcome.cuts.isEmpty)
    }

    @Test("a black stretch and a frozen stretch score as black and motionless; moving content does not")
    func deadContentScores() throws {
        let folder = try temporaryFolder("curation-dead")
        let path = try CurationFixtures.dead(in: folder)
        // 9-frame clips every 1.5 s: one inside each stretch, away from the joins.
        let (clips, _) = try Self.clips(
            path, ClipConfiguration(frames: 9, stride: 12, buckets: BucketPolicy(sizes: [128])))
        func scores(at time: Double) throws -> ClipQuality {
            try #require(clips.first { abs($0.startTime - time) < 0.7 }?.quality, "a clip near \(time) s")
        }
        let moving = try scores(at: 1.5), frozen = try scores(at: 4.5), black = try scores(at: 7.5)
        #expect(moving.motion > 2 && moving.blackFraction == 0 && moving.detail > 2)
        #expect(frozen.motion < 0.2 && frozen.blackFraction == 0 && frozen.detail > 2)
        #expect(black.motion < 0.2 && black.blackFraction == 1 && black.detail < 0.5)
    }

    @Test("a saturated object on a dark colour is content, not black; the dark colour alone is black")
    func colourOnDark() throws {
        // The captioned corpus's red square on navy: a dark frame with little grey contrast, yet plainly a picture.
        let folder = try temporaryFolder("curation-colour")
        func clip(_ name: String, square: Bool) throws -> ClipQuality {
            let path = folder + "/\(name).mp4"
            var arguments = ["-v", "error", "-y", "-f", "lavfi", "-i", "color=c=navy:s=320x240:d=3:r=24"]
            if square {
                arguments += ["-f", "lavfi", "-i", "color=c=red:s=40x40:d=3:r=24", "-filter_complex", "[0][1]overlay=x='40+60*t':y=100"]
            }
            arguments += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", path]
            try runTool("ffmpeg", arguments)
            let (clips, _) = try Self.clips(path, ClipConfiguration(frames: 9, buckets: BucketPolicy(sizes: [128])))
            return try #require(clips.first?.quality)
        }
        #expect(try clip("red-on-navy", square: true).blackFraction == 0)
        #expect(try clip("navy", square: false).blackFraction == 1)
    }

    @Test("the same clip re-encoded at another size and bitrate hashes within a few bits; other content does not")
    func perceptualHash() throws {
        let folder = try temporaryFolder("curation-hash")
        let original = try Self.cutVideo(folder)
        let copy = try CurationFixtures.reencoded(original, to: folder + "/copy.mp4")
        let (a, _) = try Self.clips(original, Self.small)
        let (b, _) = try Self.clips(copy, Self.small)
        #expect(a.count == b.count && a.count == 4)
        guard a.count == 4, b.count == 4 else { return }
        let hashes = (a.compactMap(\.quality?.hash), b.compactMap(\.quality?.hash))
        for i in 0..<4 {
            #expect((hashes.0[i] ^ hashes.1[i]).nonzeroBitCount <= 6, "clip \(i): a re-encode is a near-duplicate")
        }
        #expect((hashes.0[0] ^ hashes.0[2]).nonzeroBitCount > 16, "different shots are not")
        #expect((hashes.0[0] ^ hashes.1[3]).nonzeroBitCount > 16)
    }
}

@Suite("Short videos")
struct ShortVideoTests {
    static func twoSeconds() throws -> String {
        let path = try temporaryFolder("short-video") + "/two.mp4"
        try runTool(
            "ffmpeg",
            [
                "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2", "-c:v", "libx264",
                "-preset", "ultrafast", "-pix_fmt", "yuv420p", path,
            ])
        return path
    }

    @Test("a 2-second video yields one shorter 1 + 4k-frame clip per bucket, with the decision noted")
    func shorterClip() throws {
        let (clips, outcome) = try CurationTests.clips(
            try Self.twoSeconds(), ClipConfiguration(frames: 17, buckets: BucketPolicy(sizes: [128])))
        #expect(clips.map(\.frameCount) == [13])  // 16 frames at 8 fps hold 1 + 4·3
        #expect(outcome.shortClips == 1 && outcome.noClipReason == nil)
        #expect(outcome.notes.contains { $0.contains("made one 13-frame clip") })
        #expect(clips.first?.quality != nil)
    }

    @Test("with short_min_frames above what the video holds, or null, it is rejected as too short")
    func rejected() throws {
        let path = try Self.twoSeconds()
        for minimum in [17, nil] as [Int?] {
            let (clips, outcome) = try CurationTests.clips(
                path, ClipConfiguration(frames: 33, buckets: BucketPolicy(sizes: [128]), shortMinFrames: minimum))
            #expect(clips.isEmpty)
            #expect(outcome.noClipReason?.contains("too short") == true)
        }
    }
}

@Suite("Black bars")
struct BorderTests {
    /// `content` (W×H) moving footage padded with black to `frame` at (x, y).
    static func padded(content: String, frame: String, at offset: String) throws -> String {
        let path = try temporaryFolder("borders") + "/padded.mp4"
        try runTool(
            "ffmpeg",
            [
                "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=\(content):rate=25:duration=3",
                "-vf", "pad=\(frame.replacingOccurrences(of: "x", with: ":")):\(offset):black",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", path,
            ])
        return path
    }

    static let buckets = BucketPolicy(sizes: [128])

    @Test("a 2.4:1 picture letterboxed in 16:9 is cropped and bucketed 21:9, bars gone")
    func letterbox() throws {
        let path = try Self.padded(content: "480x200", frame: "480x270", at: "0:35")
        let reader = try ClipReader(
            path: path, configuration: ClipConfiguration(buckets: Self.buckets), logger: Fixtures.quietLogger)
        #expect(reader.crop == CropRegion(x: 0, y: 34, width: 480, height: 200))  // pad rounds 35 to 34 for 4:2:0
        #expect(reader.buckets.map(\.aspect.description) == ["21:9"])
        let clip = try #require(try reader.next())
        // No black rows left at the top or bottom of the clip.
        let rowBytes = clip.width * 3
        for row in [0, clip.height - 1] {
            let pixels = clip.frame(0)[(clip.frame(0).startIndex + row * rowBytes)...].prefix(rowBytes)
            #expect(pixels.reduce(0) { $0 + Int($1) } / rowBytes > 40, "row \(row) is not a black bar")
        }
    }

    @Test("a 4:3 picture pillarboxed in 16:9 is bucketed 4:3; with crop_borders off it stays 16:9")
    func pillarbox() throws {
        let path = try Self.padded(content: "360x270", frame: "480x270", at: "60:0")
        let cropped = try ClipReader(
            path: path, configuration: ClipConfiguration(buckets: Self.buckets), logger: Fixtures.quietLogger)
        #expect(cropped.crop == CropRegion(x: 60, y: 0, width: 360, height: 270))
        #expect(cropped.buckets.map(\.aspect.description) == ["4:3"])
        let whole = try ClipReader(
            path: path, configuration: ClipConfiguration(buckets: Self.buckets, cropBorders: false),
            logger: Fixtures.quietLogger)
        #expect(whole.crop == nil && whole.buckets.map(\.aspect.description) == ["16:9"])
    }

    @Test("footage without bars, or whose dark pictures are all black, is not cropped")
    func noBars() throws {
        let folder = try temporaryFolder("no-bars")
        for path in [try CurationFixtures.cut(in: folder), try CurationFixtures.dead(in: folder)] {
            let reader = try ClipReader(path: path, configuration: ClipConfiguration(), logger: Fixtures.quietLogger)
            #expect(reader.crop == nil, "\(path)")
        }
    }
}
