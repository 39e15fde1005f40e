import Foundation
import Testing
import TestSupport

/// `videoar serve` as a user runs it: files dropped into a watched folder, a slow copy,
/// captions arriving later, SIGTERM, and SIGKILL at random moments.
@Suite("videoar serve", .serialized)
struct ServeTests {
    static func setUp(_ name: String, stable: Double = 1.5) throws -> (root: String, config: String) {
        let root = CLITests.work.appendingPathComponent("serve-\(name)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/in", withIntermediateDirectories: true)
        let config = root + "/daemon.yaml"
        try """
        ingest_folders: [\(root)/in]
        data_folder: \(root)/data
        video: { clips: { buckets: { sizes: [128] } } }
        shards: { max_clips: 3 }
        watch: { stable_seconds: \(stable), rescan_seconds: 30, idle_seal_seconds: 1 }
        tokenizer: { config: \(try IngestCrashTests.tinyTokenizer()) }
        """.write(toFile: config, atomically: true, encoding: .utf8)
        return (root, config)
    }

    static func start(_ config: String, log: String, environment: [String: String] = [:]) throws -> Process {
        let process = Process()
        process.executableURL = CLITests.binary
        process.arguments = ["serve", "--config", config]
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        FileManager.default.createFile(atPath: log, contents: nil)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        try process.run()
        return process
    }

    static func video(_ path: String, seconds: Int, hue: Int = 0) throws {
        _ = try CLITests.run(
            "/usr/bin/env",
            [
                "ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                "testsrc2=size=160x120:rate=15:duration=\(seconds)", "-vf", "hue=h=\(hue)",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", path,
            ])
    }

    /// Polls `status` until `done` sources are done (or times out).
    static func waitUntilDone(_ config: String, count: Int, timeout: Double = 240) throws -> String {
        try CLITests.poll(timeout: timeout) { try CLITests.videoar("status", "--config", config).stdout } until: {
            $0.contains("pending 0, processing 0, done \(count),")
        }
    }

    @Test("a slow copy is not picked up early; captions may come later; SIGTERM seals and exits 0")
    func slowCopyCaptionsAndSigterm() throws {
        // Pieces come 0.9 s apart; 3 s of quiet leaves room for a loaded machine stalling the writer.
        let (root, config) = try Self.setUp("slow", stable: 3)
        let staging = root + "/staging.mp4"
        try Self.video(staging, seconds: 6)
        let daemon = try Self.start(config, log: root + "/log.jsonl")
        defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
        usleep(1_000_000)

        // Append the file over ~3 s, in pieces: it must not be ingested truncated.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: staging))
        let target = root + "/in/slow.mp4"
        FileManager.default.createFile(atPath: target, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: target))
        let piece = bytes.count / 4 + 1
        for i in 0..<4 {
            handle.write(bytes.subdata(in: (i * piece)..<min(bytes.count, (i + 1) * piece)))
            usleep(900_000)
        }
        try handle.close()
        let status = try Self.waitUntilDone(config, count: 1)
        #expect(status.contains("done 1"), "\(status)")
        #expect(!status.contains("rejected 1"), "the partial file was picked up early: \(status)")
        let all = try CLITests.videoar("query", "--config", config, "--format", "json")
        #expect(all.stdout.contains("\"total_clips\" : 2"), "6 s → 48 frames → 2 clips: \(all.stdout)")

        // A caption arriving after its video still attaches.
        try "a sunny test pattern".write(toFile: root + "/in/slow.txt", atomically: true, encoding: .utf8)
        let captioned = try CLITests.poll(timeout: 120) {
            try CLITests.videoar("query", "--config", config, "--caption", "sunny", "--format", "json").stdout
        } until: { $0.contains("\"total_clips\" : 2") }
        #expect(captioned.contains("\"total_clips\" : 2"))

        kill(daemon.processIdentifier, SIGTERM)
        daemon.waitUntilExit()
        #expect(daemon.terminationReason == .exit && daemon.terminationStatus == 0)
        let log = try String(contentsOfFile: root + "/log.jsonl", encoding: .utf8)
        #expect(log.contains("\"message\":\"stopped: every open shard sealed\""))
        #expect(try CLITests.videoar("verify", "--config", config).status == 0)
    }

    @Test("SIGKILL at random moments, restart, finish: the same clips as a clean ingest, verify clean")
    func killNineAndRestart() throws {
        let corpus = try IngestCrashTests.corpus()
        let (root, config) = try Self.setUp("kill", stable: 0.5)
        let clean = root + "/clean"
        let reference = try CLITests.videoar("ingest", corpus + "/in", "--config", config, "--data", clean)
        #expect(reference.status == 0, "\(reference.stderr)")
        let expected = try IngestCrashTests.totals(clean, config: config)

        for file in try FileManager.default.contentsOfDirectory(atPath: corpus + "/in") {
            try FileManager.default.copyItem(atPath: corpus + "/in/" + file, toPath: root + "/in/" + file)
        }
        var generator = SeededGenerator(seed: 20_261_123)  // replayable kill times
        for round in 0..<3 {
            let daemon = try Self.start(config, log: root + "/log-\(round).jsonl")
            usleep(UInt32.random(in: 1_000_000...4_000_000, using: &generator))
            kill(daemon.processIdentifier, SIGKILL)
            daemon.waitUntilExit()
            #expect(daemon.terminationReason == .uncaughtSignal)
        }
        let daemon = try Self.start(config, log: root + "/log-final.jsonl")
        let status = try Self.waitUntilDone(config, count: IngestCrashTests.files)
        kill(daemon.processIdentifier, SIGTERM)
        daemon.waitUntilExit()
        #expect(status.contains("done \(IngestCrashTests.files),"), "\(status)")
        #expect(daemon.terminationStatus == 0)
        let after = try IngestCrashTests.totals(root + "/data", config: config)
        #expect(after.clips == expected.clips)
        #expect(after.ids == expected.ids)
        #expect(try CLITests.videoar("verify", "--config", config).status == 0)
    }
}
