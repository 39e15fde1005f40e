import Foundation
import TestSupport
import Testing

/// The whole pipeline as a user runs it: captioned videos → `ingest` → shards → `train` →
/// `train report` → `generate`, with a tiny tokenizer and model so it takes seconds.
@Suite("videoar from video files to generated clips")
struct PipelineTests {
    @Test("ingest captioned videos, train on their shards, report, and generate clips from a prompt")
    func endToEnd() throws {
        let folder = CLITests.work.appendingPathComponent("pipeline-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder + "/in", withIntermediateDirectories: true)
        for (i, (color, direction)) in [("red", "left"), ("green", "right"), ("yellow", "left"), ("white", "right")]
            .enumerated()
        {
            let x = direction == "right" ? "t*60" : "260-t*60"
            let made = try CLITests.run(
                "/usr/bin/env",
                [
                    "ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=navy:s=320x240:d=2.2:r=8",
                    "-f", "lavfi", "-i", "color=c=\(color):s=48x48:d=2.2:r=8",
                    "-filter_complex", "[0][1]overlay=x='\(x)':y=\(40 + 30 * i)", "-c:v", "libx264", "-preset",
                    "ultrafast", "-pix_fmt", "yuv420p", folder + "/in/clip\(i).mp4",
                ])
            #expect(made.status == 0, "\(made.stderr)")
            try "a \(color) square moves \(direction)".write(
                toFile: folder + "/in/clip\(i).txt", atomically: true, encoding: .utf8)
        }
        let tokenizer = try IngestCrashTests.tinyTokenizer()
        let ingestConfig = folder + "/daemon.yaml"
        try
            "video:\n  clips:\n    buckets:\n      sizes: [128]\n      aspect_ratios: ['4:3']\ntokenizer:\n  config: \(tokenizer)\n"
            .write(toFile: ingestConfig, atomically: true, encoding: .utf8)
        let ingest = try CLITests.videoar(
            "ingest", folder + "/in", "--config", ingestConfig, "--data", folder + "/data")
        #expect(ingest.status == 0, "\(ingest.stdout)\(ingest.stderr)")

        let trainConfig = folder + "/train.yaml"
        try """
        model: {name: tiny, width: 32, depth: 1, heads: 2, bits_per_token: 8}
        data_folder: \(folder)/data
        tokenizer: \(tokenizer)
        held_out: {fraction: 0.5, salt: pipeline}
        stages:
          - {name: I, steps: 6, batch: 2, learning_rate: 1.0e-3, warmup_steps: 2, data: [{size: 128}]}
        evaluation: {every: 3, batches: 1}
        threads: 1
        """.write(toFile: trainConfig, atomically: true, encoding: .utf8)
        let run = folder + "/run"
        let train = try CLITests.videoar("train", "--config", trainConfig, "--run", run, "--print-every", "3")
        #expect(train.status == 0, "\(train.stdout)\(train.stderr)")
        #expect(train.stdout.contains("step 6/6"), "\(train.stdout)")
        #expect(train.stdout.contains("held-out @3"), "\(train.stdout)")
        #expect(FileManager.default.fileExists(atPath: run + "/model.safetensors"))
        // A second run into the same folder is refused with the way out.
        let again = try CLITests.videoar("train", "--config", trainConfig, "--run", run)
        #expect(again.status == 2 && again.stderr.contains("--resume"), "\(again.stderr)")

        let report = try CLITests.videoar("train", "report", run)
        #expect(report.status == 0, "\(report.stderr)")
        #expect(report.stdout.contains("copy the previous latent frame"), "\(report.stdout)")
        #expect(FileManager.default.fileExists(atPath: run + "/curves.png"))

        let out = folder + "/generated"
        let generate = try CLITests.videoar(
            "generate", "--model", run + "/model.safetensors", "--tokenizer-config", tokenizer, "--prompt",
            "a red square moves left", "--count", "2", "--seed", "3", "--out", out)
        #expect(generate.status == 0, "\(generate.stdout)\(generate.stderr)")
        #expect(generate.stdout.contains("30 steps"), "\(generate.stdout)")
        for name in ["sample-000.mp4", "sample-000.png", "sample-001.mp4", "sample-001.png"] {
            #expect(FileManager.default.fileExists(atPath: out + "/" + name), "\(name)")
        }
        let probe = try CLITests.videoar("probe", out + "/sample-000.mp4", "--json")
        #expect(probe.status == 0 && probe.stdout.contains("144"), "\(probe.stdout)")
        // The shipped tokenizer is not the one this model was trained on: a clear refusal.
        let wrong = try CLITests.videoar(
            "generate", "--model", run + "/model.safetensors", "--prompt", "x", "--out", folder + "/wrong")
        #expect(wrong.status == 2 && wrong.stderr.contains("was trained on tokens of tokenizer"), "\(wrong.stderr)")
    }

    @Test(
        "the shipped demo model works out of the box: no --model, the shipped tokenizer, a continuation past the trained length both ways"
    )
    func shippedModel() throws {
        let folder = try temporaryFolder("shipped")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for continuation in ["reencode", "slide"] {
            let out = folder + "/" + continuation
            let generated = try CLITests.videoar(
                "generate", "--prompt", "a red square moves right on a navy background", "--video", CLITests.sample,
                "--context", "5", "--frames", "33", "--continuation", continuation, "--out", out)
            #expect(generated.status == 0, "\(generated.stdout)\(generated.stderr)")
            #expect(generated.stdout.contains("model cpu-small ("), "\(generated.stdout)")
            #expect(generated.stdout.contains("1 × 33 frames"), "\(generated.stdout)")
            #expect(FileManager.default.fileExists(atPath: out + "/sample-000.mp4"))
            #expect(FileManager.default.fileExists(atPath: out + "/sample-000.png"))
        }
        let bad = try CLITests.videoar("generate", "--prompt", "x", "--continuation", "loop", "--out", folder)
        #expect(bad.status != 0 && bad.stderr.contains("--continuation must be reencode or slide"), "\(bad.stderr)")
    }
}
