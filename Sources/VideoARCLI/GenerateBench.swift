import ArgumentParser
import Dispatch
import Foundation
import Generation
import Model
import Tensor
import TokenFormat
import Tokenizer
import VideoIO

/// `videoar bench generate`: wall time and steps per clip with the KV cache (tokenizer decoding
/// included), the same sampling recomputing every earlier block, tokens/s, peak RSS, and the
/// step count of a next-token sampler for scale.
struct GenerateBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Sampling time per clip (decode included), KV-cache speed-up over recomputing, tokens/s, peak RSS.",
        discussion: """
            Targets: under one second per 17-frame 128² clip with the CPU default on a 2-core machine (the paper's \\
            headline is 0.86 s for its 4B model on a GPU); the KV cache ≥ 3× faster than recomputing the prefix.
            """
    )

    @Option(
        help:
            "The model (safetensors written by `videoar train`); default: the shipped \(GenerateCommand.shippedModel).",
        completion: .file(extensions: ["safetensors"]))
    var model: String?

    @Option(help: "Tokenizer weights (default: the shipped one).", completion: .file(extensions: ["safetensors"]))
    var checkpoint: String?

    @Option(help: "Frames per clip.")
    var frames: Int = 17

    @Option(help: "Bucket size.")
    var size: Int = 128

    @Option(help: "Aspect ratio W:H.")
    var aspect: String = "4:3"

    @Option(help: "Guidance preset or constant (with guidance the batch holds the unconditional rows too).")
    var cfg: String = "t2v"

    @Option(name: .customLong("repeat"), help: "Timed clips per measurement; the median counts.")
    var runs: Int = 3

    @Option(help: "LibTorch intra-op threads for decoding (default: all cores).")
    var threads: Int?

    @Option(help: "LibTorch threads while sampling.")
    var samplingThreads: Int = 1

    @OptionGroup var global: GlobalOptions

    func run() throws {
        let logger = global.makeLogger("videoar.bench")
        useTorchThreads(threads)
        guard let guidance = GuidanceSchedule(preset: cfg), let ratio = AspectRatio(aspect) else {
            throw ValidationError("--cfg or --aspect is not valid")
        }
        let network = try VideoARTransformer(checkpoint: GenerateCommand.modelPath(model))
        let tokenizer = try tokenizerFor(network, checkpoint: checkpoint, layout: nil, logger: logger)
        let t = tokenizer.configuration
        let bucket = Bucket(size: size, aspect: ratio, multiple: t.spatialFactor)
        let schedule = ScaleSchedule(
            height: bucket.height / t.spatialFactor, width: bucket.width / t.spatialFactor, sides: t.scaleSides)
        let codes = MultiScaleCodes(schedule: schedule, bitsPerToken: t.latentDim, decay: t.codeDecay)
        let layout = SequenceLayout(frames: t.latentFrames(frames), schedule: schedule)
        let sampler = Sampler(model: network)
        print(
            "bench generate: \(network.configuration.name) (\(network.parameterCount) parameters), \(frames) frames at "
                + "\(bucket.width)×\(bucket.height), guidance \(cfg); sampling on \(samplingThreads) thread(s), "
                + "decoding on \(Torch.threads)")
        func seconds(_ body: () throws -> Void) rethrows -> Double {
            let start = DispatchTime.now()
            try body()
            return Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        }
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        var sample: [Double] = [], decode: [Double] = [], recompute: [Double] = []
        let decodeThreads = Torch.threads
        Torch.threads = samplingThreads
        _ = try sampler.sample(captions: ["warm-up"], layout: layout, codes: codes, options: .init(guidance: guidance))
        for i in 0..<max(1, runs) {
            var bits: Tensor? = nil
            let options = Sampler.Options(guidance: guidance, seed: UInt64(i))
            Torch.threads = samplingThreads
            sample.append(
                try seconds {
                    bits = try sampler.sample(
                        captions: ["a red square"], layout: layout, codes: codes, options: options)
                })
            Torch.threads = decodeThreads
            let clip = try TokenClip(
                tokenizer: tokenizer.identity, frames: frames, latentFrames: layout.frames,
                latentHeight: schedule.scales.last!.height, latentWidth: schedule.scales.last!.width,
                schedule: schedule, bitsPerToken: t.latentDim, codeDecay: t.codeDecay, bits: bits!.select(dim: 0, 0))
            decode.append(try seconds { _ = try tokenizer.decode(clip) })
            Torch.threads = samplingThreads
            recompute.append(
                try seconds {
                    _ = try sampler.sample(
                        captions: ["a red square"], layout: layout, codes: codes, options: options, useCache: false)
                })
            Torch.threads = decodeThreads
        }
        let steps = layout.frames * layout.scalesPerFrame
        let total = median(sample) + median(decode)
        print("")
        print(
            "steps per clip (one forward per block)   \(steps)  (\(layout.frames) latent frames × \(layout.scalesPerFrame) scales)"
        )
        print("next-token sampler, same clip            \(layout.count) steps (one per token)")
        print(
            String(
                format: "sampling, KV cache                       %.3f s  (%.0f tokens/s)", median(sample),
                Double(layout.count) / median(sample)))
        print(String(format: "tokenizer decode                         %.3f s", median(decode)))
        print(String(format: "per clip, decode included                %.3f s  (target < 1 s)", total))
        print(
            String(
                format: "sampling, recomputing the prefix         %.3f s  → KV cache %.1f× faster (target ≥ 3×)",
                median(recompute), median(recompute) / median(sample)))
        print(String(format: "peak memory (max RSS)                    %.1f MiB", peakResidentMiB()))
    }
}
