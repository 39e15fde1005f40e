import Foundation
import Testing
import TestSupport

/// A new tokenizer over an ingested catalog: `retokenize` (also under kill -9), queries and
/// status defaulting to the configured tokenizer, vanished files reported, and `gc`.
@Suite("Re-tokenizing and gc")
struct RetokenizeTests {
    /// A daemon configuration whose tokenizer is the tiny layout with `seed` (another seed is
    /// another tokenizer), buckets 128 only, 3 clips per shard.
    static func config(seed: Int, in folder: String) throws -> String {
        let layout = folder + "/tiny-\(seed).yaml"
        try """
        name: tiny-\(seed)
        base_channels: 8
        channel_multipliers: [1, 2, 2, 2, 2]
        latent_dim: 8
        norm_groups: 4
        seed: \(seed)
        """.write(toFile: layout, atomically: true, encoding: .utf8)
        return try IngestCrashTests.config(folder, name: "daemon-\(seed).yaml", tokenizer: layout)
    }

    static func folder(_ name: String) throws -> String {
        let path = CLITests.work.appendingPathComponent("\(name)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test(
        "kill -9 during retokenize, twice, then finish: the same new clips as a clean run; old shards kept; verify clean"
    )
    func killNine() throws {
        let corpus = try IngestCrashTests.corpus()
        let work = try Self.folder("retok-crash")
        let a = try Self.config(seed: 0, in: work), b = try Self.config(seed: 1, in: work)

        let clean = work + "/clean"
        #expect(try CLITests.videoar("ingest", corpus + "/in", "--config", a, "--data", clean).status == 0)
        let oldClips = try IngestCrashTests.totals(clean, config: a)
        let cleanRun = try CLITests.videoar("retokenize", "--config", b, "--data", clean)
        #expect(cleanRun.status == 0, "\(cleanRun.stdout)\(cleanRun.stderr)")
        #expect(cleanRun.stdout.contains("\(IngestCrashTests.files) source(s) queued"), "\(cleanRun.stdout)")
        let expected = try IngestCrashTests.totals(clean, config: b)
        #expect(expected.clips == oldClips.clips)
        #expect(expected.ids.isDisjoint(with: oldClips.ids), "new tokenizer, new clip ids")

        let crashed = work + "/crashed"
        let ingest = { try CLITests.videoar("ingest", corpus + "/in", "--config", a, "--data", crashed).status == 0 }
        #expect(try ingest())
        try IngestCrashTests.killAtRandomMoments(
            ["retokenize", "--config", b, "--data", crashed], rounds: 2, cleanSeconds: cleanRun.seconds,
            fractions: 0.15...0.4, seed: 20_261_123
        ) {
            try FileManager.default.removeItem(atPath: crashed)
            #expect(try ingest())
        }
        let final = try CLITests.videoar("retokenize", "--config", b, "--data", crashed)
        #expect(final.status == 0, "\(final.stdout)\(final.stderr)")
        let after = try IngestCrashTests.totals(crashed, config: b)
        #expect(after.clips == expected.clips)
        #expect(after.ids == expected.ids)
        // The old tokenizer's clips are still there, and still what its configuration sees.
        let old = try IngestCrashTests.totals(crashed, config: a)
        #expect(old.ids == oldClips.ids)
        let verify = try CLITests.videoar("verify", "--config", b, "--data", crashed)
        #expect(verify.status == 0, "\(verify.stdout)")
        let status = try CLITests.videoar("status", "--config", b, "--data", crashed)
        #expect(status.stdout.contains("pending 0, processing 0, done \(IngestCrashTests.files),"), "\(status.stdout)")
        #expect(status.stdout.contains("every done source has tokens of the selected tokenizer"), "\(status.stdout)")
    }

    @Test("ingest with a new tokenizer redoes the done files under its paths, and only those")
    func ingestRetokenizes() throws {
        let work = try Self.folder("retok-ingest")
        let a = try Self.config(seed: 0, in: work), b = try Self.config(seed: 1, in: work)
        for (i, name) in ["one", "two"].enumerated() {  // different bytes: not aliases of each other
            try FileManager.default.createDirectory(atPath: work + "/\(name)", withIntermediateDirectories: true)
            _ = try CLITests.run(
                "/usr/bin/env",
                [
                    "ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=160x120:rate=10:duration=\(3 + i)",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", work + "/\(name)/v.mp4",
                ])
        }
        let data = work + "/data"
        #expect(try CLITests.videoar("ingest", work + "/one", work + "/two", "--config", a, "--data", data).status == 0)
        let again = try CLITests.videoar("ingest", work + "/one", "--config", b, "--data", data)
        #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
        #expect(again.stdout.contains("1 done file(s) queued again"), "\(again.stdout)")
        #expect(try IngestCrashTests.totals(data, config: b).clips > 0)
        let status = try CLITests.videoar("status", "--config", b, "--data", data)
        #expect(status.stdout.contains("1 done source(s) still lack tokens"), "\(status.stdout)")
    }

    @Test(
        "queries and status default to the configured tokenizer; a vanished file is reported; gc removes the old shards"
    )
    func defaultsVanishedAndGC() throws {
        let work = try Self.folder("retok-defaults")
        let a = try Self.config(seed: 0, in: work), b = try Self.config(seed: 1, in: work)
        let input = work + "/in"
        try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
        for (i, pattern) in ["testsrc2", "testsrc", "mandelbrot"].enumerated() {
            _ = try CLITests.run(
                "/usr/bin/env",
                [
                    // Moving patterns: curation drops motionless clips (min_motion).
                    "ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "\(pattern)=size=160x120:rate=10",
                    "-t", "3",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", input + "/v\(i).mp4",
                ])
        }
        let data = work + "/data"
        #expect(try CLITests.videoar("ingest", input, "--config", a, "--data", data).status == 0)
        let oldClips = try IngestCrashTests.totals(data, config: a)
        #expect(oldClips.clips >= 3)
        // Tokenizer b has nothing yet: its queries see no clips, and status says what it lacks.
        #expect(try IngestCrashTests.totals(data, config: b).clips == 0)
        let before = try CLITests.videoar("status", "--config", b, "--data", data)
        #expect(before.stdout.contains("3 done source(s) still lack tokens"), "\(before.stdout)")

        // One source's file vanishes: retokenize does the others and names it.
        let gone = input + "/v1.mp4"
        try FileManager.default.removeItem(atPath: gone)
        let run = try CLITests.videoar("retokenize", "--config", b, "--data", data)
        #expect(run.status == 2, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("2 source(s) queued"), "\(run.stdout)")
        #expect(run.stdout.contains("the file is gone (its old clips stay): \(gone)"), "\(run.stdout)")
        let status = try CLITests.videoar("status", "--config", b, "--data", data)
        #expect(status.stdout.contains("1 done source(s) still lack tokens"), "\(status.stdout)")
        #expect(status.stdout.contains("cannot re-tokenize, the file is gone: \(gone)"), "\(status.stdout)")

        let newClips = try IngestCrashTests.totals(data, config: b)
        #expect(newClips.clips > 0 && newClips.clips < oldClips.clips)
        let all = try CLITests.videoar(
            "query", "--config", b, "--data", data, "--tokenizer", "all", "--format", "json")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(all.stdout.utf8)) as? [String: Any])
        #expect(json["total_clips"] as? Int == oldClips.clips + newClips.clips)
        let byName = try CLITests.videoar("query", "--config", b, "--data", data, "--tokenizer", "tiny-0")
        #expect(byName.stdout.contains("total: \(oldClips.clips) clips"), "\(byName.stdout)")

        // gc keeps b: it refuses while the vanished source's only clips are a's, then --force.
        let refused = try CLITests.videoar("gc", "--config", b, "--data", data)
        #expect(refused.status == 1, "\(refused.stdout)\(refused.stderr)")
        #expect(refused.stderr.contains("re-tokenize them first"), "\(refused.stderr)")
        #expect(try IngestCrashTests.totals(data, config: a).clips == oldClips.clips, "a refused gc removes nothing")
        let shardsBefore = try FileManager.default.subpathsOfDirectory(atPath: data + "/shards").filter {
            $0.hasSuffix(".safetensors")
        }
        let forced = try CLITests.videoar("gc", "--config", b, "--data", data, "--force")
        #expect(forced.status == 0, "\(forced.stdout)\(forced.stderr)")
        let shardsAfter = try FileManager.default.subpathsOfDirectory(atPath: data + "/shards").filter {
            $0.hasSuffix(".safetensors")
        }
        #expect(shardsAfter.count < shardsBefore.count)
        let left = try CLITests.videoar(
            "query", "--config", b, "--data", data, "--tokenizer", "all", "--format", "json")
        let leftJSON = try #require(try JSONSerialization.jsonObject(with: Data(left.stdout.utf8)) as? [String: Any])
        #expect(leftJSON["total_clips"] as? Int == newClips.clips)
        let verify = try CLITests.videoar("verify", "--config", b, "--data", data)
        #expect(verify.status == 0, "\(verify.stdout)")
        #expect(verify.stdout.contains("\(shardsAfter.count) sealed shard(s) checked"), "\(verify.stdout)")
    }
}
