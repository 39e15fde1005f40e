import ArgumentParser
import AtomicFiles
import Foundation
import Logging
import Tensor
import Tokenizer

/// `videoar bench tokenizer`: encode throughput of the default CPU tokenizer, its achieved
/// GFLOP/s against this machine's LibTorch matmul GFLOP/s, and the same encoder run from
/// Python on the same LibTorch (Debian's python3-torch) — timings, per-op overhead and a
/// numerical cross-check, all in one run.
struct TokenizerBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract: "Tokenizer encode throughput and GFLOP/s; the same encoder from Python on the same LibTorch.",
        discussion: """
            Targets: achieved GFLOP/s ≥ 50% of the measured matmul GFLOP/s; the Swift bridge's
            per-op overhead no slower than Python's. The Python peer needs Debian's python3-torch
            (Scripts/bootstrap --bench installs it); without it that part is skipped with a note.
            """
    )

    @Option(name: .customLong("size"), help: "Bucket sizes (square), repeat for several.")
    var sizes: [Int] = [128, 256]

    @Option(help: "Frames per clip.")
    var frames: Int = 17

    @Option(name: .customLong("repeat"), help: "Timed runs per measurement; the fastest counts.")
    var runs: Int = 3

    @Option(help: "LibTorch intra-op threads (default: all cores).")
    var threads: Int?

    @Option(help: "The Python that has Debian's torch.")
    var python: String = "/usr/bin/python3"

    @Option(
        help: "Keep the checkpoint, inputs and Python outputs in this folder (to rerun the peer by hand).",
        completion: .directory)
    var keep: String?

    @Option(
        help: "Tokenizer weights to time (default: the shipped default tokenizer).",
        completion: .file(extensions: ["safetensors"]))
    var checkpoint: String?

    @Option(help: "A tokenizer layout (YAML) to time with its seeded weights instead; ignored with --checkpoint.")
    var tokenizerConfig: String?

    @OptionGroup var global: GlobalOptions

    func run() throws {
        let logger = global.makeLogger("videoar.bench")
        useTorchThreads(threads)
        let tokenizer = try loadTokenizer(checkpoint: checkpoint, layout: tokenizerConfig, logger: logger)
        let matmul = try matmulGFLOPs()
        print("bench tokenizer: \(tokenizer.identity)")
        print("LibTorch \(Torch.version), \(Torch.threads) intra-op threads, BLAS: \(Torch.blasLibrary)")
        print(String(format: "matmul 1024×1024 float32: %.1f GFLOP/s (the machine's reference)", matmul))
        print("")
        print(
            "size      clip          latent      tokens/clip   encode s   clips/s   tokens/s   GFLOP/clip   GFLOP/s   of matmul"
        )

        var videos: [String: Tensor] = [:]
        for size in sizes {
            let video = try syntheticVideo(frames: frames, size: size)
            let name = "s\(size)"
            videos[name] = video
            let (tokens, flops) = try FLOPCounter.measure { try tokenizer.encode(video) }
            var best = Double.infinity
            for _ in 0..<max(1, runs) {
                let start = DispatchTime.now()
                _ = try tokenizer.encode(video)
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9)
            }
            let gflops = flops / best / 1e9
            let line =
                String(format: "%-8d  %-12@", size, "\(frames)×\(size)×\(size)" as NSString)
                + String(
                    format: "  %-10@  %11d  %9.3f  %8.2f  %9.0f  %11.2f  %8.1f  %9.0f%%",
                    "\(tokens.latentFrames)×\(tokens.latentHeight)×\(tokens.latentWidth)" as NSString,
                    tokens.tokenCount, best, 1 / best, Double(tokens.tokenCount) / best, flops / 1e9, gflops,
                    100 * gflops / matmul)
            print(line)
        }

        let swiftAdd = try perOpMicroseconds()
        print("")
        print(String(format: "per-op overhead (1-element add through the bridge): %.2f µs", swiftAdd))
        try comparePython(tokenizer: tokenizer, videos: videos, swiftAdd: swiftAdd)
    }

    /// A smooth random video, uint8 [T, S, S, 3].
    private func syntheticVideo(frames: Int, size: Int) throws -> Tensor {
        let g = Generator(seed: 42)
        return try
            (Tensor.rand([frames, 3, 8, 8], generator: g).interpolate(size: [size, size], mode: .bilinear) * 255)
            .rounded().clamp(min: 0, max: 255).permuted([0, 2, 3, 1]).to(.uint8).contiguous()
    }

    private func perOpMicroseconds() throws -> Double {
        let a = try Tensor.ones([1]), b = try Tensor.ones([1])
        for _ in 0..<1000 { _ = try a + b }
        let count = 20000
        let start = DispatchTime.now()
        for _ in 0..<count { _ = try a + b }
        return Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e3 / Double(count)
    }

    private func comparePython(tokenizer: Tokenizer, videos: [String: Tensor], swiftAdd: Double) throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Scripts/bench/tokenizer_reference.py").path
        let folder =
            keep.map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("videoar-bench-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { if keep == nil { try? FileManager.default.removeItem(at: folder) } }
        let checkpoint = folder.appendingPathComponent("tokenizer.safetensors").path
        let inputs = folder.appendingPathComponent("inputs.safetensors").path
        let output = folder.appendingPathComponent("features").path
        try tokenizer.save(to: checkpoint, trained: tokenizer.identity.trained)
        try SafeTensors.write(videos, to: inputs)

        let result: Subprocess.Result
        do {
            result = try Subprocess.run(
                python, [script, checkpoint, inputs, output, String(Torch.threads), String(max(1, runs))])
        } catch let error as SubprocessError {
            print("python peer: skipped (\(python) cannot run: \(error.cause ?? error.message))")
            return
        }
        // Kept with the other Python outputs (the folder goes unless --keep).
        try? Data(result.stdout.utf8).write(to: folder.appendingPathComponent("result.json"))
        guard result.status == 0,
            let json = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any],
            let sizes = json["sizes"] as? [String: [String: Any]], let pythonAdd = json["add_us"] as? Double
        else {
            print(
                "python peer: skipped (no torch for \(python); run Scripts/bootstrap --bench to install python3-torch)")
            return
        }
        print("")
        print(
            "Python peer: torch \(json["torch"] ?? "?") (same LibTorch), \(json["threads"] ?? "?") threads, same weights and input"
        )
        print(
            "size      Swift encoder s   Python encoder s   Python/Swift   max |Δ features|   (encoder only, best of \(max(1, runs)))"
        )
        for name in videos.keys.sorted(by: { $0.count != $1.count ? $0.count < $1.count : $0 < $1 }) {
            guard let entry = sizes[name], let seconds = entry["seconds"] as? Double else { continue }
            let ours = try tokenizer.latentFeatures(videos[name]!)
            var swift = Double.infinity
            for _ in 0..<max(1, runs) {
                let start = DispatchTime.now()
                _ = try tokenizer.latentFeatures(videos[name]!)
                swift = min(swift, Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9)
            }
            let theirs = try Data(contentsOf: URL(fileURLWithPath: "\(output).\(name).f32"))
            let values: [Float] = theirs.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            let reference = try Tensor(values, shape: ours.shape)
            let difference = try (ours - reference).abs().max().item()
            print(
                String(
                    format: "%-8@  %15.3f  %17.3f  %13.2f  %17.2e", name as NSString, swift, seconds, seconds / swift,
                    difference))
        }
        print(
            String(
                format: "per-op overhead: Swift bridge %.2f µs, Python %.2f µs → Swift is %.1f× %@",
                swiftAdd, pythonAdd, max(swiftAdd, pythonAdd) / min(swiftAdd, pythonAdd),
                (swiftAdd <= pythonAdd ? "faster (target: no slower — MET)" : "slower (target: no slower — NOT MET)")
                    as NSString))
    }
}
