import Foundation
import Testing

/// The `videoar` command as a user runs it.
@Suite("videoar command line")
struct CLITests {
    /// The binary built next to this test bundle.
    static let binary: URL = {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        return bundle.appendingPathComponent("videoar")
    }()

    static let work: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("videoar-cli-tests-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var seconds: Double = 0
    }

    /// Runs a program with output through files (pipes trap on EINTR in Foundation).
    static func run(_ executable: String, _ arguments: [String]) throws -> Result {
        let out = work.appendingPathComponent(UUID().uuidString + ".out")
        let err = work.appendingPathComponent(UUID().uuidString + ".err")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        let start = Date()
        try process.run()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus,
            stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "",
            seconds: Date().timeIntervalSince(start))
    }

    static func videoar(_ arguments: String...) throws -> Result { try run(binary.path, arguments) }

    /// Reads `read()` every 0.3 s until `condition` holds for what it returned or `timeout`
    /// seconds pass, and returns the last reading. Generous timeouts cost nothing when the
    /// condition comes early, and a loaded CI machine may need them.
    static func poll(timeout: Double, _ read: () throws -> String, until condition: (String) -> Bool) throws
        -> String
    {
        let deadline = Date().addingTimeInterval(timeout)
        var last = ""
        while Date() < deadline {
            last = try read()
            if condition(last) { break }
            usleep(300_000)
        }
        return last
    }

    static let sample: String = {
        let path = work.appendingPathComponent("sample.mp4").path
        _ = try? run(
            "/usr/bin/env",
            [
                "ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                "testsrc2=size=320x180:rate=25:duration=3", "-c:v", "libx264", "-pix_fmt", "yuv420p", path,
            ])
        return path
    }()

    @Test("probe --json prints one object per file, failures with a code, and exits 1 if any failed")
    func probeJSON() throws {
        let junk = Self.work.appendingPathComponent("junk.mp4").path
        try Data("not a video".utf8).write(to: URL(fileURLWithPath: junk))
        let result = try Self.videoar("probe", "--json", Self.sample, junk)
        #expect(result.status == 1)
        let records = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
        #expect(records.count == 2)
        let info = try #require(records[0]["info"] as? [String: Any])
        #expect(info["width"] as? Int == 320 && info["height"] as? Int == 180)
        #expect(info["codec"] as? String == "h264")
        let error = try #require(records[1]["error"] as? [String: Any])
        #expect(error["code"] as? String == "unsupported")
    }

    @Test("clips --out writes an MP4 and a contact sheet per clip")
    func clipsOut() throws {
        let out = Self.work.appendingPathComponent("clips-out").path
        let result = try Self.videoar("clips", Self.sample, "--size", "128", "--out", out)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("clip 128-16x9-176x96 #0  start 0.000 s  17 frames"))
        let files = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        #expect(files == ["clip-128-16x9-176x96-000.mp4", "clip-128-16x9-176x96-000.png"])
    }

    @Test("a bad configuration is refused with the key named and exit code 64")
    func badConfiguration() throws {
        let config = Self.work.appendingPathComponent("bad.yaml").path
        try "clips:\n  fsp: 8\n".write(toFile: config, atomically: true, encoding: .utf8)
        let result = try Self.videoar("clips", Self.sample, "--config", config)
        #expect(result.status == 64)
        #expect(result.stderr.contains("clips.fsp"))
        #expect(result.stderr.contains("unknown key 'fsp'"), "\(result.stderr)")
    }

    @Test("a file too short for a clip yields a shorter one and says so; with short_min_frames null, no clip and why")
    func tooShort() throws {
        let result = try Self.videoar("clips", Self.sample, "--size", "128", "--frames", "65")
        #expect(result.status == 0)
        #expect(result.stdout.contains("too short for a 65-frame clip"), "\(result.stdout)")
        let config = FileManager.default.temporaryDirectory.appendingPathComponent("clips-\(UUID().uuidString).yaml")
            .path
        try "clips:\n  short_min_frames: null\n".write(toFile: config, atomically: true, encoding: .utf8)
        let strict = try Self.videoar("clips", Self.sample, "--config", config, "--size", "128", "--frames", "65")
        #expect(strict.status == 0)
        #expect(strict.stdout.contains("no clips: too short"), "\(strict.stdout)")
    }

    /// The repository (for the shipped configs and checkpoint).
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    @Test("tokenize uses the shipped trained tokenizer by default; a layout alone runs seeded and says UNTRAINED")
    func tokenize() throws {
        let result = try Self.videoar("tokenize", Self.sample, "--size", "128", "--frames", "17")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("tokenizer cpu-f8 "))
        #expect(!result.stdout.contains("UNTRAINED"), "\(result.stdout)")
        #expect(result.stdout.contains("17×96×176 → latent 5×12×22"))
        #expect(result.stdout.contains("bits/pixel"))
        let seeded = try Self.videoar(
            "tokenize", Self.sample, "--size", "128", "--frames", "17",
            "--tokenizer-config", Self.repository + "/Configs/tokenizer/cpu-small.yaml")
        #expect(seeded.status == 0, "\(seeded.stderr)")
        #expect(seeded.stdout.contains("UNTRAINED"))
    }

    @Test("tokenizer train and eval explain bad input instead of failing obscurely")
    func tokenizerCommandErrors() throws {
        let missing = try Self.videoar("tokenizer", "eval", "--checkpoint", "/nonexistent.safetensors", Self.sample)
        #expect(missing.status != 0)
        #expect((missing.stdout + missing.stderr).contains("/nonexistent.safetensors"))
        let config = Self.work.appendingPathComponent("bad-train.yaml").path
        try "stages:\n  - kind: video\n    frames: 6\ndata: {videos: [/tmp]}\n".write(
            toFile: config, atomically: true, encoding: .utf8)
        let bad = try Self.videoar(
            "tokenizer", "train", "--config", config, "--run", Self.work.appendingPathComponent("bad-run").path)
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("stages[0] (video).frames must be 1 + 4k"), "\(bad.stderr)")
    }

    @Test("reconstruct writes original | reconstruction side by side and prints PSNR")
    func reconstruct() throws {
        let out = Self.work.appendingPathComponent("recon").path
        let result = try Self.videoar("reconstruct", Self.sample, "--size", "128", "--out", out)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("PSNR"))
        let files = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        #expect(files == ["recon-128-16x9-176x96-000.mp4", "recon-128-16x9-176x96-000.png"])
        let probe = try Self.videoar("probe", "--json", out + "/" + files[0])
        #expect(probe.stdout.contains("\"width\" : 352"))
    }
}
