import Foundation
import Testing

/// `videoar serve` when things go wrong around it: a file that crashes the decoder, a second
/// writer, a missing ingest folder, a full disk. The daemon never stops for good, and every
/// good file ends done.
@Suite("videoar serve under hostile conditions", .serialized)
struct DaemonRobustnessTests {
    /// An MPEG-4 Part 2 AVI with 4 KB of random bytes at 60 %: with frame threading and
    /// stop-on-damage this aborted FFmpeg 5.1 (`Assertion frame->buf[0] failed`).
    static func damagedMPEG4(_ path: String) throws {
        let clean = path + ".clean.avi"
        _ = try CLITests.run(
            "/usr/bin/env",
            [
                "ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                "testsrc2=size=192x144:rate=25:duration=6", "-c:v", "mpeg4", "-q:v", "4", "-g", "25", clean,
            ])
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: clean)))
        var state: UInt64 = 9
        let start = bytes.count * 6 / 10
        for i in start..<(start + 4096) {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            bytes[i] = UInt8(truncatingIfNeeded: state >> 33)
        }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        try FileManager.default.removeItem(atPath: clean)
    }

    static func status(_ config: String) throws -> String { try CLITests.videoar("status", "--config", config).stdout }

    /// Waits until `condition` holds for `status`, or the daemon exits, or time runs out.
    static func wait(_ config: String, daemon: Process, timeout: Double = 300, until condition: (String) -> Bool) throws
        -> String
    {
        try CLITests.poll(timeout: timeout) { try status(config) } until: { condition($0) || !daemon.isRunning }
    }

    @Test(
        "a file that crashes the process is rejected after retry.max_crashes restarts; the damaged MPEG-4 and every good file are ingested"
    )
    func poisonFile() throws {
        let (root, config) = try ServeTests.setUp("poison", stable: 0.5)
        try ServeTests.video(root + "/in/good1.mp4", seconds: 3)
        try ServeTests.video(root + "/in/good2.mp4", seconds: 3, hue: 90)
        try ServeTests.video(root + "/in/poison.mp4", seconds: 3, hue: 180)
        try Self.damagedMPEG4(root + "/in/damaged.avi")
        // The test hook aborts the process in the decoder thread on poison.mp4, as a decoder bug would.
        var crashes = 0
        var final = ""
        for attempt in 0..<6 {
            let daemon = try ServeTests.start(
                config, log: root + "/log-\(attempt).jsonl", environment: ["VIDEOAR_TEST_ABORT_ON": "/in/poison.mp4"])
            defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
            final = try Self.wait(config, daemon: daemon) { $0.contains("processing 0, done 3, failed 0, rejected 1") }
            if daemon.isRunning {
                kill(daemon.processIdentifier, SIGTERM)
                daemon.waitUntilExit()
                #expect(daemon.terminationReason == .exit && daemon.terminationStatus == 0)
                break
            }
            daemon.waitUntilExit()
            #expect(
                daemon.terminationReason == .uncaughtSignal && daemon.terminationStatus == SIGABRT, "attempt \(attempt)"
            )
            crashes += 1
        }
        #expect(crashes == 3, "retry.max_crashes is 3 by default")
        final = try Self.status(config)
        #expect(final.contains("processing 0, done 3, failed 0, rejected 1"), "\(final)")
        #expect(
            final.contains(
                "[rejected crash] \(root)/in/poison.mp4: the decoder crashed the process on this file (3 times; last: SIGABRT)"
            ),
            "\(final)")
        #expect(
            final.contains("[partial-corrupt] \(root)/in/damaged.avi"), "the damaged file's note is shown: \(final)")
        #expect(try CLITests.videoar("verify", "--config", config).status == 0)
    }

    @Test(
        "a folder of every hostile input we know beside real files: good files done, each bad one rejected with its reason, the daemon never stops"
    )
    func hostileFolder() throws {
        let (root, config) = try ServeTests.setUp("hostile", stable: 0.5)
        let input = root + "/in"
        try ServeTests.video(input + "/good.mp4", seconds: 3)
        _ = try CLITests.run(
            "/usr/bin/env",
            [
                "ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=176x144:rate=10:duration=3",
                "-c:v", "libvpx-vp9", "-b:v", "300k", input + "/good.webm",
            ])
        try Self.damagedMPEG4(input + "/damaged.avi")
        let good = try Data(contentsOf: URL(fileURLWithPath: input + "/good.mp4"))
        try Data(good.prefix(good.count / 2)).write(to: URL(fileURLWithPath: input + "/cut.mp4"))
        try Data().write(to: URL(fileURLWithPath: input + "/empty.mp4"))
        try Data((0..<30_000).map { UInt8(truncatingIfNeeded: $0 &* 7919 >> 3) }).write(
            to: URL(fileURLWithPath: input + "/noise.mkv"))
        try "not a video\n".write(toFile: input + "/notes.mp4", atomically: true, encoding: .utf8)
        _ = try CLITests.run(
            "/usr/bin/env",
            [
                "ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac",
                input + "/tone.m4a",
            ])
        #expect(mkfifo(input + "/pipe.mp4", 0o644) == 0)
        try FileManager.default.createSymbolicLink(atPath: input + "/loop", withDestinationPath: input)
        try FileManager.default.createSymbolicLink(
            atPath: input + "/dangling.mp4", withDestinationPath: root + "/nowhere.mp4")

        let daemon = try ServeTests.start(config, log: root + "/log.jsonl")
        defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
        let status = try Self.wait(config, daemon: daemon) {
            $0.contains("pending 0, processing 0, done 3, failed 0, rejected 6")
        }
        #expect(daemon.isRunning, "the daemon stopped")
        #expect(status.contains("pending 0, processing 0, done 3, failed 0, rejected 6"), "\(status)")
        for (name, code) in [
            ("cut.mp4", "truncated"), ("empty.mp4", "truncated"), ("noise.mkv", "unsupported"),
            ("notes.mp4", "unsupported"), ("tone.m4a", "no-video-stream"), ("pipe.mp4", "not-a-file"),
        ] {
            #expect(status.contains("[rejected \(code)] \(input)/\(name): "), "\(name): \(status)")
        }
        #expect(status.contains("[partial-corrupt] \(input)/damaged.avi"), "\(status)")
        kill(daemon.processIdentifier, SIGTERM)
        daemon.waitUntilExit()
        #expect(daemon.terminationReason == .exit && daemon.terminationStatus == 0)
        #expect(try CLITests.videoar("verify", "--config", config).status == 0)
    }

    @Test("ingest beside a running daemon says the daemon owns the folder (exit 75); the daemon is unharmed")
    func secondWriter() throws {
        let (root, config) = try ServeTests.setUp("writer", stable: 0.5)
        try ServeTests.video(root + "/in/a.mp4", seconds: 3)
        let daemon = try ServeTests.start(config, log: root + "/log.jsonl")
        defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
        _ = try Self.wait(config, daemon: daemon) { $0.contains("done 1,") }
        let other = root + "/other.mp4"
        try ServeTests.video(other, seconds: 3, hue: 45)
        let ingest = try CLITests.videoar("ingest", other, "--config", config)
        #expect(ingest.status == 75)
        #expect(
            ingest.stderr.contains("is in use by `videoar serve` (pid \(daemon.processIdentifier))"), "\(ingest.stderr)"
        )
        let status = try Self.status(config)
        #expect(status.contains("writer: `videoar serve` (pid \(daemon.processIdentifier))"), "\(status)")
        // The daemon goes on: a new file is still ingested, nothing was deleted under it.
        try FileManager.default.copyItem(atPath: other, toPath: root + "/in/other.mp4")
        let done = try Self.wait(config, daemon: daemon) { $0.contains("done 2,") }
        #expect(done.contains("processing 0, done 2, failed 0, rejected 0"), "\(done)")
        kill(daemon.processIdentifier, SIGTERM)
        daemon.waitUntilExit()
        #expect(daemon.terminationStatus == 0)
        #expect(try CLITests.videoar("verify", "--config", config).status == 0)
        #expect(try Self.status(config).contains("writer: none running"))
    }

    @Test("a missing ingest folder is reported by status and watched for; its files are ingested once it appears")
    func missingFolder() throws {
        let (root, config) = try ServeTests.setUp("missing", stable: 0.5)
        try FileManager.default.removeItem(atPath: root + "/in")
        let daemon = try ServeTests.start(config, log: root + "/log.jsonl")
        defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
        let warned = try Self.wait(config, daemon: daemon) { $0.contains("does not exist") }
        #expect(warned.contains("WARNING: ingest folder \(root)/in does not exist (watching for it)"), "\(warned)")
        let log = try String(contentsOfFile: root + "/log.jsonl", encoding: .utf8)
        #expect(log.contains("an ingest folder does not exist"))
        try FileManager.default.createDirectory(atPath: root + "/in", withIntermediateDirectories: true)
        try ServeTests.video(root + "/in/late.mp4", seconds: 3)
        let done = try Self.wait(config, daemon: daemon) { $0.contains("done 1,") }
        #expect(done.contains("done 1,") && !done.contains("does not exist"), "\(done)")
        kill(daemon.processIdentifier, SIGTERM)
        daemon.waitUntilExit()
    }

    static let canMount: Bool = {
        let probe = CLITests.work.appendingPathComponent("mount-probe").path
        try? FileManager.default.createDirectory(atPath: probe, withIntermediateDirectories: true)
        guard
            (try? CLITests.run("/usr/bin/env", ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", probe]))?.status == 0
        else { return false }
        _ = try? CLITests.run("/usr/bin/env", ["umount", probe])
        return true
    }()

    @Test(
        "a full disk: status shows the error while it lasts; once space returns every file is done without a restart",
        .enabled(if: canMount, "needs permission to mount a small tmpfs (root)"))
    func diskFull() throws {
        let (root, config) = try ServeTests.setUp("full", stable: 0.5)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: config))
        handle.seekToEndOfFile()
        handle.write(Data("\nretry: { backoff_seconds: 1 }\n".utf8))
        try handle.close()
        let data = root + "/data"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        #expect(try CLITests.run("/usr/bin/env", ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", data]).status == 0)
        defer { _ = try? CLITests.run("/usr/bin/env", ["umount", "-l", data]) }
        let daemon = try ServeTests.start(config, log: root + "/log.jsonl")
        defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
        _ = try Self.wait(config, daemon: daemon) { $0.contains("writer: `videoar serve`") }
        // Fill the disk, then drop files in.
        _ = try CLITests.run("/usr/bin/env", ["dd", "if=/dev/zero", "of=\(data)/filler", "bs=64k", "count=1000"])
        for i in 0..<3 { try ServeTests.video(root + "/in/v\(i).mp4", seconds: 3, hue: 30 * i) }
        let stuck = try Self.wait(config, daemon: daemon) { $0.contains("ERROR for") }
        #expect(stuck.contains("ERROR for") && stuck.contains("full"), "\(stuck)")
        // Space returns: the daemon recovers by itself.
        try FileManager.default.removeItem(atPath: data + "/filler")
        let done = try Self.wait(config, daemon: daemon) {
            $0.contains("processing 0, done 3,") && !$0.contains("ERROR")
        }
        #expect(done.contains("pending 0, processing 0, done 3, failed 0, rejected 0"), "\(done)")
        #expect(!done.contains("ERROR"), "\(done)")
        #expect(daemon.isRunning)
        kill(daemon.processIdentifier, SIGTERM)
        daemon.waitUntilExit()
        #expect(try CLITests.videoar("verify", "--config", config).status == 0)
    }

    @Test("bad paths: ingest of a missing path exits 66; a data folder that is a file is named (exit 64)")
    func badPaths() throws {
        let missing = try CLITests.videoar(
            "ingest", "/nonexistent/videos", "--data", CLITests.work.appendingPathComponent("d-\(UUID())").path)
        #expect(
            missing.status == 66 && missing.stderr.contains("/nonexistent/videos does not exist"), "\(missing.stderr)")
        let file = CLITests.work.appendingPathComponent("a-file-\(UUID())").path
        try "x".write(toFile: file, atomically: true, encoding: .utf8)
        let result = try CLITests.videoar("ingest", CLITests.sample, "--data", file)
        #expect(result.status == 64 && result.stderr.contains("is a file, not a folder"), "\(result.stderr)")
    }

    @Test("a FIFO named on the command line is rejected with the reason, never read (no hang)")
    func fifo() throws {
        let folder = CLITests.work.appendingPathComponent("fifo-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        #expect(mkfifo(folder + "/pipe.mp4", 0o644) == 0)
        let result = try CLITests.videoar("ingest", folder + "/pipe.mp4", "--data", folder + "/data")
        #expect(result.status == 2, "\(result.stdout) \(result.stderr)")
        let status = try CLITests.videoar("status", "--data", folder + "/data").stdout
        #expect(
            status.contains(
                "[rejected not-a-file] \(folder)/pipe.mp4: \(folder)/pipe.mp4 is a FIFO (named pipe), not a regular file"
            ),
            "\(status)")
    }
}
