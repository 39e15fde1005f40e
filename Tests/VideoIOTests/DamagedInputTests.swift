import Foundation
import Testing
import TestSupport
import VideoIO

/// Bad input gets a clear error with a stable code and loses nothing that was good.
@Suite("Damaged, hostile and non-media input")
struct DamagedInputTests {
    static func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    /// A 6-second 30 fps pattern video; `faststart` moves the index to the front.
    static func source(faststart: Bool) throws -> String {
        try Fixtures.make(
            faststart ? "six-front.mp4" : "six-end.mp4",
            Fixtures.pattern(width: 192, height: 144, seconds: 6)
                + ["-c:v", "libx264", "-bf", "3", "-crf", "12", "-pix_fmt", "yuv420p"]
                + (faststart ? ["-movflags", "+faststart"] : []))
    }

    func expectError(
        _ path: String, _ code: VideoIOError.Code, mentioning words: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        do {
            _ = try ClipReader(path: path, logger: Fixtures.quietLogger)
            Issue.record("\(path) opened, expected \(code)", sourceLocation: sourceLocation)
        } catch let error as VideoIOError {
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
            #expect(error.file == path, sourceLocation: sourceLocation)
            if let words { #expect(error.message.contains(words), "\(error)", sourceLocation: sourceLocation) }
        } catch {
            Issue.record("unexpected error type: \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test("a zero-byte file")
    func empty() throws {
        expectError(try Fixtures.write("empty.mp4", []), .truncated, mentioning: "empty")
    }

    @Test("random bytes, with and without a video extension", arguments: ["noise.mp4", "noise.bin", "noise.mkv"])
    func randomBytes(name: String) throws {
        let path = try Fixtures.write(name, Self.randomBytes(64 * 1024, seed: 42))
        expectError(path, .unsupported)
    }

    @Test("a text file renamed .mp4")
    func textAsMP4() throws {
        let text = (0..<300).map { "line \($0): this is not a video\n" }.joined()
        expectError(try Fixtures.write("notes.mp4", Array(text.utf8)), .unsupported, mentioning: "not a video")
    }

    @Test("a missing file and a folder are I/O errors")
    func notAFile() {
        expectError("/nonexistent/clip.mp4", .io, mentioning: "no such file")
        expectError(Fixtures.directory.path, .io, mentioning: "directory")
    }

    @Test("audio only: no video stream")
    func audioOnly() throws {
        let path = try Fixtures.make("tone.m4a", ["-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac"])
        expectError(path, .noVideoStream, mentioning: "audio")
    }

    @Test("truncated with the index at the end (moov missing)")
    func truncatedMoovAtEnd() throws {
        let full = try Data(contentsOf: URL(fileURLWithPath: try Self.source(faststart: false)))
        let path = try Fixtures.write("cut-moov-end.mp4", Array(full.prefix(full.count / 2)))
        expectError(path, .truncated, mentioning: "moov")
    }

    @Test("truncated with the index at the front: complete clips before the cut survive")
    func truncatedMoovAtFront() throws {
        let full = try Data(contentsOf: URL(fileURLWithPath: try Self.source(faststart: true)))
        let path = try Fixtures.write("cut-moov-front.mp4", Array(full.prefix(full.count * 7 / 10)))
        let reader = try ClipReader(
            path: path, configuration: ClipConfiguration(buckets: BucketPolicy(sizes: [128])),
            logger: Fixtures.quietLogger)
        let clips = try reader.readAll()
        let outcome = try #require(reader.outcome)
        #expect(outcome.damage?.code == .truncated, "\(String(describing: outcome.damage))")
        let stoppedAt = try #require(outcome.stoppedAt)
        #expect(stoppedAt > 2.2 && stoppedAt < 5)
        try #require(clips.count == 1)  // 0–2.125 s is complete; the second clip would need 4.25 s
        for t in 0..<17 {
            #expect(
                Fixtures.index(in: clips[0], frame: t, sourceWidth: 192, sourceHeight: 144)
                    == Fixtures.expectedIndex(slot: t, fps: 8, pts: (0..<180).map { Int64($0) }, timeBase: (1, 30)))
        }
    }

    @Test("corruption in the middle: clips before the damage survive, reading stops there")
    func corruptMiddle() throws {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: try Self.source(faststart: true))))
        let start = bytes.count * 7 / 10
        let junk = Self.randomBytes(bytes.count / 20, seed: 7)
        bytes.replaceSubrange(start..<(start + junk.count), with: junk)
        let path = try Fixtures.write("corrupt-middle.mp4", bytes)
        let reader = try ClipReader(
            path: path, configuration: ClipConfiguration(buckets: BucketPolicy(sizes: [128])),
            logger: Fixtures.quietLogger)
        let clips = try reader.readAll()
        let outcome = try #require(reader.outcome)
        #expect(outcome.damage?.code == .corrupt, "\(String(describing: outcome.damage))")
        #expect(outcome.damage?.message.contains("stopped at") == true)
        #expect(clips.count == 1)
        #expect((outcome.stoppedAt ?? 0) > 2.2)
    }

    /// FFmpeg 5.1's frame-threaded MPEG-4 Part 2 decoder aborts the process (SIGABRT) on this
    /// damage when errors explode; with the defaults (automatic threads, stop on damage) the
    /// reader must end the stream with an error and keep the complete clip before it.
    @Test(
        "MPEG-4 Part 2 in AVI with random bytes in the middle: an error, not an abort",
        arguments: [7, 8, 9] as [UInt64])
    func corruptMPEG4(seed: UInt64) throws {
        let source = try Fixtures.make(
            "mpeg4.avi",
            Fixtures.pattern(width: 192, height: 144, seconds: 6)
                + ["-c:v", "mpeg4", "-q:v", "4", "-g", "30"])
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: source)))
        let start = bytes.count * 6 / 10
        bytes.replaceSubrange(start..<(start + 4096), with: Self.randomBytes(4096, seed: seed))
        let path = try Fixtures.write("mpeg4-damaged-\(seed).avi", bytes)
        let configuration = ClipConfiguration(buckets: BucketPolicy(sizes: [128]))
        #expect(configuration.decoderThreads == 0 && configuration.stopOnDamage, "the defaults are what crashed")
        let reader = try ClipReader(path: path, configuration: configuration, logger: Fixtures.quietLogger)
        let clips = try reader.readAll()
        let outcome = try #require(reader.outcome)
        #expect(outcome.damage?.code == .corrupt, "\(String(describing: outcome.damage))")
        #expect(clips.count == 1, "0–2.125 s is before the damage at about 3.6 s")
    }

    @Test("a frame size past the caps is refused before decoding")
    func tooLarge() throws {
        let path = try Fixtures.make(
            "qcif.mp4",
            Fixtures.pattern(width: 176, height: 144, seconds: 3)
                + ["-c:v", "libx264", "-crf", "12", "-pix_fmt", "yuv420p"])
        do {
            _ = try ClipReader(
                path: path, limits: VideoIOLimits(maxDimension: 16_384, maxPixels: 10_000),
                logger: Fixtures.quietLogger)
            Issue.record("expected too-large")
        } catch let error as VideoIOError {
            #expect(error.code == .tooLarge)
            #expect(error.message.contains("176×144"))
        }
    }

    @Test(
        "a PNG whose header claims a huge frame (a decompression bomb) is refused before decoding",
        arguments: [(16_000, 12_000), (60_000, 60_000)])
    func pngBomb(width: Int, height: Int) throws {
        // A real 16×16 PNG with its IHDR rewritten and the chunk CRC fixed up.
        let small = try Fixtures.make(
            "small.png", ["-f", "lavfi", "-i", "color=c=red:s=16x16:d=1", "-frames:v", "1", "-update", "1"])
        var png = [UInt8](try Data(contentsOf: URL(fileURLWithPath: small)))
        let ihdr = 8 + 8  // signature, then length + "IHDR"
        for (offset, value) in [(ihdr, UInt32(width)), (ihdr + 4, UInt32(height))] {
            for k in 0..<4 { png[offset + k] = UInt8((value >> (24 - 8 * UInt32(k))) & 0xff) }
        }
        let crc = Self.crc32(png[(ihdr - 4)..<(ihdr + 13)])
        for k in 0..<4 { png[ihdr + 13 + k] = UInt8((crc >> (24 - 8 * UInt32(k))) & 0xff) }
        let path = try Fixtures.write("bomb-\(width).png", png)
        expectError(path, .tooLarge, mentioning: "past the caps")
    }

    static func crc32<C: Collection<UInt8>>(_ bytes: C) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = (crc >> 1) ^ (0xEDB8_8320 & (0 &- (crc & 1))) }
        }
        return ~crc
    }
}
