import Foundation
import Testing
import VideoIO

/// Every frame of every clip must be the source frame nearest its target time: the
/// frame index drawn in the picture is read back and compared with the nearest frame
/// computed from ffprobe's timestamps.
@Suite("Frame-exact sampling on real files")
struct FrameExactSamplingTests {
    /// Cuts `path` and checks every frame; returns the clips.
    @discardableResult
    func assertFrameExact(
        _ path: String, width: Int, height: Int, fps: Int = 8, frames: Int = 17,
        stride: Int? = nil, maxClips: Int? = nil, size: Int = 128,
        nominalRate: Int64? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> [Clip] {
        let configuration = ClipConfiguration(
            fps: Double(fps), frames: frames, stride: stride, maxClips: maxClips,
            buckets: BucketPolicy(sizes: [size]), decoderThreads: 2)
        let reader = try ClipReader(path: path, configuration: configuration, logger: Fixtures.quietLogger)
        let clips = try reader.readAll()
        var truth = try Fixtures.framePTS(path)
        if let nominalRate {
            // No timestamps in the file: the truth is frame i at i / rate.
            #expect(truth.pts.isEmpty, sourceLocation: sourceLocation)
            truth = ((0..<10_000).map { Int64($0) }, (1, nominalRate))
        }
        #expect(!clips.isEmpty, sourceLocation: sourceLocation)
        #expect(reader.outcome?.damage == nil, sourceLocation: sourceLocation)
        for clip in clips {
            #expect(clip.frameCount == frames, sourceLocation: sourceLocation)
            for t in 0..<clip.frameCount {
                let slot = clip.index * (stride ?? frames) + t
                let expected = Fixtures.expectedIndex(
                    slot: slot, fps: Int64(fps), pts: truth.pts, timeBase: truth.timeBase)
                let seen = Fixtures.index(in: clip, frame: t, sourceWidth: width, sourceHeight: height)
                #expect(
                    seen == expected, "clip \(clip.index) frame \(t) (slot \(slot))", sourceLocation: sourceLocation)
                let expectedTime = Double(truth.pts[expected]) * Double(truth.timeBase.0) / Double(truth.timeBase.1)
                #expect(abs(clip.frameTimes[t] - expectedTime) < 1e-6, sourceLocation: sourceLocation)
            }
        }
        return clips
    }

    @Test("constant 30 fps H.264 with B-frames → 8 fps")
    func constantRateWithBFrames() throws {
        let path = try Fixtures.make(
            "cfr30-bframes.mp4",
            Fixtures.pattern(width: 192, height: 144, seconds: 6)
                + ["-c:v", "libx264", "-bf", "3", "-crf", "12", "-pix_fmt", "yuv420p"])
        let clips = try assertFrameExact(path, width: 192, height: 144)
        #expect(clips.count == 2)  // 6 s × 8 fps = 48 frames → two 17-frame clips
        #expect(clips[1].startTime == 17.0 / 8)
    }

    @Test("variable frame rate (30, then 10, then 24 fps) keeps nearest-PTS choices")
    func variableRate() throws {
        let path = try Fixtures.make(
            "vfr.mp4",
            Fixtures.pattern(width: 192, height: 144, seconds: 6) + [
                "-vf", "settb=1/120,setpts='if(lt(N,60),N*4,if(lt(N,120),240+(N-60)*12,960+(N-120)*5))'",
                "-fps_mode", "passthrough", "-video_track_timescale", "120",
                "-c:v", "libx264", "-bf", "3", "-crf", "12", "-pix_fmt", "yuv420p",
            ])
        try assertFrameExact(path, width: 192, height: 144)
    }

    @Test("upsampling to a rate above the source repeats frames exactly")
    func upsampling() throws {
        let path = try Fixtures.make(
            "cfr12.mkv",
            Fixtures.pattern(width: 160, height: 120, rate: "12", seconds: 3)
                + ["-c:v", "libx264", "-crf", "12", "-pix_fmt", "yuv420p"])
        try assertFrameExact(path, width: 160, height: 120, fps: 30, frames: 33)
    }

    @Test("NTSC 30000/1001 in Matroska's millisecond time base")
    func oddTimeBase() throws {
        let path = try Fixtures.make(
            "ntsc.mkv",
            Fixtures.pattern(width: 192, height: 108, rate: "30000/1001", seconds: 5)
                + ["-c:v", "libx264", "-bf", "2", "-crf", "12", "-pix_fmt", "yuv420p"])
        try assertFrameExact(path, width: 192, height: 108)
    }

    @Test("MPEG-TS (90 kHz clock, non-zero start time)")
    func transportStream() throws {
        let path = try Fixtures.make(
            "cfr25.ts",
            Fixtures.pattern(width: 192, height: 144, rate: "25", seconds: 5)
                + ["-c:v", "libx264", "-bf", "3", "-crf", "12", "-pix_fmt", "yuv420p"])
        try assertFrameExact(path, width: 192, height: 144)
    }

    @Test("raw H.264 without timestamps falls back to best-effort timestamps")
    func missingTimestamps() throws {
        let path = try Fixtures.make(
            "raw.h264",
            Fixtures.pattern(width: 192, height: 144, rate: "25", seconds: 5)
                + ["-c:v", "libx264", "-bf", "2", "-crf", "12", "-pix_fmt", "yuv420p", "-f", "h264"])
        try assertFrameExact(path, width: 192, height: 144, nominalRate: 25)
    }

    @Test("overlapping clips (stride < frames) and a clip cap")
    func strideAndCap() throws {
        let path = try Fixtures.make(
            "cfr30-bframes.mp4",
            Fixtures.pattern(width: 192, height: 144, seconds: 6)
                + ["-c:v", "libx264", "-bf", "3", "-crf", "12", "-pix_fmt", "yuv420p"])
        let clips = try assertFrameExact(path, width: 192, height: 144, stride: 8, maxClips: 3)
        #expect(clips.map(\.index) == [0, 1, 2])
        #expect(clips.map(\.startTime) == [0, 1, 2])
    }

    @Test("every configured bucket the source fits gets the same frames")
    func severalBuckets() throws {
        let path = try Fixtures.make(
            "hd-16x9.mp4",
            Fixtures.pattern(width: 640, height: 360, seconds: 3)
                + ["-c:v", "libx264", "-crf", "12", "-pix_fmt", "yuv420p"])
        let reader = try ClipReader(
            path: path,
            configuration: ClipConfiguration(
                buckets: BucketPolicy(sizes: [128, 256, 512])), logger: Fixtures.quietLogger)
        let clips = try reader.readAll()
        #expect(reader.buckets.map(\.description) == ["128 16:9 (176×96)", "256 16:9 (336×192)"])
        #expect(reader.skippedBuckets.map(\.bucket.size) == [512])
        #expect(clips.count == 2)
        for clip in clips {
            #expect(clip.pixels.count == 17 * clip.height * clip.width * 3)
            for t in 0..<17 {
                #expect(
                    Fixtures.index(in: clip, frame: t, sourceWidth: 640, sourceHeight: 360)
                        == Fixtures.index(in: clips[0], frame: t, sourceWidth: 640, sourceHeight: 360))
            }
        }
    }
}
