import Foundation
import Testing
import TestSupport

/// `videoar ingest` killed with SIGKILL at random moments, then run to completion, ends
/// exactly like an uninterrupted run: same clips, nothing duplicated, every shard verifies.
@Suite("Crash safety of videoar ingest")
struct IngestCrashTests {
    /// Files in the crash corpus (the issue asks for ~50; 40 keeps CI quick).
    static let files = 40

    static func corpus() throws -> String {
        let folder = CLITests.work.appendingPathComponent("crash-corpus").path
        if FileManager.default.fileExists(atPath: folder + "/done") { return folder }
        try FileManager.default.createDirectory(atPath: folder + "/in", withIntermediateDirectories: true)
        for i in 0..<Self.files {
            _ = try CLITests.run(
                "/usr/bin/env",
                [
                    "ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=\(160 + 16 * (i % 3))x120:rate=15:duration=\(3 + i % 3)",
                    "-vf", "hue=h=\(i * 7)", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                    folder + "/in/video\(i).mp4",
                ])
        }
        try "x".write(toFile: folder + "/done", atomically: true, encoding: .utf8)
        return folder
    }

    /// A daemon configuration in `folder` (as `name`): buckets 128 only, 3 clips per shard, and
    /// `tokenizer` (a layout file) or the tiny layout.
    static func config(_ folder: String, name: String = "daemon.yaml", tokenizer: String? = nil) throws -> String {
        let path = folder + "/" + name
        try """
        video:
          clips:
            buckets:
              sizes: [128]
        shards:
          max_clips: 3
        tokenizer:
          config: \(try tokenizer ?? tinyTokenizer())
        """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// A tiny seeded tokenizer layout: the crash invariants do not depend on the weights, and
    /// CI gets minutes back.
    static func tinyTokenizer() throws -> String {
        let path = CLITests.work.appendingPathComponent("tiny-tokenizer.yaml").path
        try """
        name: tiny
        base_channels: 8
        channel_multipliers: [1, 2, 2, 2, 2]
        latent_dim: 8
        norm_groups: 4
        """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Runs `videoar arguments` `rounds` times, each on what the one before left, and SIGKILLs
    /// each at a random moment: a fraction (from `fractions`, drawn from a generator seeded with
    /// `seed`, so a failure can be replayed) of `cleanSeconds`, an uninterrupted run's wall time.
    /// A run that ends before its kill has tested nothing — the machine got faster than when the
    /// clean run was timed (CI's load changes) — so `reset` restores the starting state and the
    /// rounds start over with every moment halved; after four such tries that is a failure.
    static func killAtRandomMoments(
        _ arguments: [String], rounds: Int, cleanSeconds: Double, fractions: ClosedRange<Double>, seed: UInt64,
        reset: () throws -> Void
    ) throws {
        var generator = SeededGenerator(seed: seed)
        var scale = 1.0
        tries: for attempt in 0..<4 {
            for round in 0..<rounds {
                let process = Process()
                process.executableURL = CLITests.binary
                process.arguments = arguments
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try process.run()
                let delay = scale * cleanSeconds * Double.random(in: fractions, using: &generator)
                let deadline = Date().addingTimeInterval(delay)
                while process.isRunning && Date() < deadline { usleep(20_000) }
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                if process.terminationReason != .uncaughtSignal {
                    Issue.record(
                        """
                        try \(attempt), round \(round): finished before it was killed at \(delay) s \
                        (clean run \(cleanSeconds) s)
                        """, severity: attempt == 3 ? .error : .warning)
                    try reset()
                    scale /= 2
                    continue tries
                }
            }
            return
        }
    }

    /// Total clips and sealed shards reported by `query --format json`.
    static func totals(_ data: String, config: String) throws -> (clips: Int, ids: Set<Int>) {
        let result = try CLITests.videoar(
            "query", "--config", config, "--data", data, "--format", "json", "--limit", "1000")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let clips = json["clips"] as? [[String: Any]] ?? []
        return (json["total_clips"] as? Int ?? -1, Set(clips.compactMap { $0["id"] as? Int }))
    }

    @Test("kill -9 at random points, three times, then finish: the same clips as a clean run, verify clean")
    func killNine() throws {
        let corpus = try Self.corpus()
        let config = try Self.config(corpus)
        let clean = CLITests.work.appendingPathComponent("crash-clean-\(UUID().uuidString)").path
        let first = try CLITests.videoar("ingest", corpus + "/in", "--config", config, "--data", clean)
        #expect(first.status == 0, "\(first.stderr)")
        let expected = try Self.totals(clean, config: config)
        #expect(expected.clips >= Self.files)

        let crashed = CLITests.work.appendingPathComponent("crash-killed-\(UUID().uuidString)").path
        // A clean run of this corpus takes ~15 s, so every kill lands mid-run.
        try Self.killAtRandomMoments(
            ["ingest", corpus + "/in", "--config", config, "--data", crashed], rounds: 3, cleanSeconds: first.seconds,
            fractions: 0.1...0.3, seed: 20_261_122
        ) { try? FileManager.default.removeItem(atPath: crashed) }
        let final = try CLITests.videoar("ingest", corpus + "/in", "--config", config, "--data", crashed)
        #expect(final.status == 0, "\(final.stderr)")
        let after = try Self.totals(crashed, config: config)
        #expect(after.clips == expected.clips)
        #expect(after.ids == expected.ids)
        let verify = try CLITests.videoar("verify", "--config", config, "--data", crashed)
        #expect(verify.status == 0, "\(verify.stdout)")
        let status = try CLITests.videoar("status", "--config", config, "--data", crashed)
        #expect(status.stdout.contains("pending 0, processing 0, done \(Self.files),"), "\(status.stdout)")
    }
}
