import ArgumentParser
import Dispatch
import Foundation
import ModelTraining
import Tensor

/// `videoar bench train`: training throughput of the transformer over real shards, its achieved
/// GFLOP/s against this machine's LibTorch matmul measured in the same run, the loader's
/// share of a step and the peak memory.
struct TrainBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Transformer training throughput (tokens/s, GFLOP/s vs LibTorch matmul), loader share, peak RSS.",
        discussion: """
            Targets: achieved GFLOP/s ≥ 50% of the matmul GFLOP/s for the CPU default at 128²; the loader under \
            5% of a step (the trainer never waits on data). Runs the configuration's first stage on the shards of \
            its data folder (`make run` makes them) in a scratch run folder.
            """
    )

    @Option(help: "The training configuration (YAML).", completion: .file(extensions: ["yaml", "yml"]))
    var config: String = "Configs/model/cpu-small.yaml"

    @Option(help: "Override the data folder.", completion: .directory)
    var data: String?

    @Option(help: "Timed steps (after the warm-up).")
    var steps: Int = 20

    @Option(help: "Untimed warm-up steps.")
    var warmup: Int = 3

    @Option(help: "LibTorch intra-op threads (default: all cores).")
    var threads: Int?

    @OptionGroup var global: GlobalOptions

    func run() throws {
        let logger = global.makeLogger("videoar.bench")
        var configuration = try loadConfiguration(ModelTrainingConfiguration.self, from: config)
        if let data { configuration.dataFolder = data }
        useTorchThreads(threads ?? (configuration.threads > 0 ? configuration.threads : nil))
        configuration = try pinnedToTokenizer(configuration, logger: logger)
        print(
            "bench train: \(configuration.model.name) (width \(configuration.model.width), depth \(configuration.model.depth)), "
                + "stage \(configuration.stages[0].name): \(configuration.stages[0].data.map(\.summary).joined(separator: "; ")), batch \(configuration.stages[0].batch)"
        )
        print("LibTorch \(Torch.version), \(Torch.threads) intra-op threads, BLAS: \(Torch.blasLibrary)")
        let matmul = try matmulGFLOPs()
        print(String(format: "matmul 1024×1024 float32: %.1f GFLOP/s (the machine's reference, this run)", matmul))
        let result = try exiting(on: TrainerError.self) {
            try TrainingBenchmark.run(configuration: configuration, steps: steps, warmup: warmup, logger: logger)
        }
        print("")
        print("parameters            \(result.parameters)")
        print("buckets               \(result.buckets.joined(separator: ", "))")
        print(
            String(
                format: "steps timed           %d (%.2f s/step)", result.steps, result.seconds / Double(result.steps)))
        print(String(format: "tokens/s              %.0f", result.tokensPerSecond))
        print(
            String(
                format: "achieved GFLOP/s      %.1f  (%.0f%% of matmul; target ≥ 50%%)", result.gflops,
                100 * result.gflops / matmul))
        print(
            String(
                format: "loader wait           %.2f%% of the step time (target < 5%%)", 100 * result.loaderShare))
        print(String(format: "peak memory (max RSS) %.1f MiB", peakResidentMiB()))
    }
}
