import ArgumentParser
import Foundation
import Logging
import ModelTraining
import Tokenizer
import Tensor

/// `videoar train …`: train the transformer from the token shards, and plot a run.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract:
            "Train the VideoAR transformer from the token shards (stages are catalog queries), or report on a run.",
        subcommands: [TrainModelCommand.self, ReportModelCommand.self, EvalModelCommand.self],
        defaultSubcommand: TrainModelCommand.self
    )
}

struct TrainModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Train through the configured stages (the default: `videoar train --config …`).",
        discussion: """
            Reads clips through the catalog of the configuration's data_folder (what `videoar ingest` or \
            `serve` wrote); held-out sources are never trained on. The run folder holds log.jsonl (one record \
            per step), eval.jsonl (held-out NLL and accuracy per scale, with the marginal and copy-previous-frame \
            baselines), plans/, checkpoints/ and, when every stage is done, model.safetensors. SIGINT (Ctrl-C) \
            finishes the step, writes a checkpoint and exits; --resume continues with exactly the batches and \
            random draws the uninterrupted run would have used.
            """
    )

    @Option(
        help: "The training configuration (YAML, e.g. Configs/model/cpu-small.yaml).",
        completion: .file(extensions: ["yaml", "yml"]))
    var config: String

    @Option(
        name: .customLong("run"), help: "The run folder (default: runs/model-<config file name>).",
        completion: .directory)
    var runFolder: String?

    @Flag(help: "Continue the run in --run from its latest checkpoint.")
    var resume = false

    @Option(help: "Stop (with a checkpoint) once this many steps in total are done; resume later.")
    var until: Int?

    @Option(help: "Stop (with a checkpoint and a held-out evaluation) after this many minutes; resume later.")
    var maxMinutes: Double?

    @Option(help: "Print a progress line every this many steps.")
    var printEvery: Int = 10

    @Option(help: "Override the configuration's data folder.", completion: .directory)
    var data: String?

    @OptionGroup var global: GlobalOptions

    func run() throws {
        var logger = global.makeLogger("videoar.train")
        logger.logLevel = global.verbose ? .debug : .info
        var configuration = try loadConfiguration(ModelTrainingConfiguration.self, from: config)
        if let data { configuration.dataFolder = data }
        useTorchThreads(configuration.threads)
        configuration = try pinnedToTokenizer(configuration, logger: logger)
        let folder =
            runFolder ?? "runs/model-" + URL(fileURLWithPath: config).deletingPathExtension().lastPathComponent
        let stop = StopRequest()
        stop.install()
        let trainer = try exiting(on: TrainerError.self) {
            try ModelTrainer(configuration: configuration, runDirectory: folder, resume: resume, logger: logger)
        }
        printNow(
            "training \(trainer.parameterCount) parameters (\(configuration.model.name): width \(configuration.model.width), "
                + "depth \(configuration.model.depth)) in \(folder), from step \(trainer.nextStep) of "
                + "\(configuration.totalSteps) on \(Torch.threads) threads")
        let deadline = maxMinutes.map { Date().addingTimeInterval($0 * 60) }
        let outcome = try exiting(on: TrainerError.self) {
            try trainer.run(
                until: until, printEvery: printEvery, progress: printNow,
                shouldStop: { stop.requested || deadline.map { Date() >= $0 } == true })
        }
        switch outcome {
        case .finished(let path):
            print("done: \(path)  (curves: videoar train report \(folder))")
        case .paused(let step):
            print("paused at step \(step); continue with: videoar train --config \(config) --run \(folder) --resume")
        }
    }
}

/// The configuration with its queries restricted to the tokens of its `tokenizer` (the shipped
/// default when unset; `any` leaves them as they are), said on stdout.
func pinnedToTokenizer(_ configuration: ModelTrainingConfiguration, logger: Logger) throws
    -> ModelTrainingConfiguration
{
    guard configuration.tokenizer != "any" else { return configuration }
    let choice = configuration.tokenizer
    let isLayout = choice.map { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") } ?? false
    let tokenizer = try exiting(on: TokenizerError.self) {
        try loadTokenizer(checkpoint: isLayout ? nil : choice, layout: isLayout ? choice : nil, logger: logger)
    }
    printNow("training on the tokens of tokenizer \(tokenizer.identity) (config key `tokenizer`)")
    return configuration.pinning(tokenizer: tokenizer.identity.id)
}

struct ReportModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Draw a model run's curves (loss, accuracy per scale, held-out NLL vs baselines) and summarise it."
    )

    @Argument(help: "The run folder (holds log.jsonl and eval.jsonl).", completion: .directory)
    var runFolder: String

    @Option(help: "Where to write the chart (default: RUN/curves.png).")
    var out: String?

    func run() throws {
        let report = try exiting(on: TrainerError.self) { try ModelTrainingReport(run: runFolder) }
        let path = out ?? runFolder + "/curves.png"
        try report.writePNG(to: path)
        let last = report.steps.suffix(50)
        let loss = last.map(\.nll).reduce(0, +) / Double(last.count)
        let accuracy = last.map(\.accuracy).reduce(0, +) / Double(last.count)
        let rate = last.map(\.tokensPerSecond).reduce(0, +) / Double(last.count)
        print("\(report.steps.count) steps; curves: \(path)")
        print(
            String(
                format: "training (last %d steps): nll %.4f nats/bit, bit accuracy %.1f%%, %.0f tokens/s", last.count,
                loss, accuracy * 100, rate))
        guard let e = report.latest else {
            print("no held-out evaluation yet (needs held-out sources: held_out.fraction > 0 and enough sources)")
            return
        }
        print("held-out at step \(e.step) (\(e.clips) clips), nats per bit (lower is better):")
        print("| predictor | NLL | bit accuracy |")
        print("|---|---|---|")
        print(String(format: "| VideoAR model | %.4f | %.1f%% |", e.nll, e.accuracy * 100))
        print(
            String(
                format: "| the same model, captions replaced by the empty condition | %.4f | – |", e.unconditionalNLL))
        if let m = e.marginalNLL { print(String(format: "| each bit's marginal frequency | %.4f | – |", m)) }
        if let c = e.copyNLL { print(String(format: "| copy the previous latent frame | %.4f | – |", c)) }
        print("| uniform (ln 2) | 0.6931 | 50.0% |")
        print(
            "per scale (coarse → fine): nll "
                + e.scaleNLL.map { String(format: "%.3f", $0) }.joined(separator: " ") + "; accuracy "
                + e.scaleAccuracy.map { String(format: "%.1f%%", $0 * 100) }.joined(separator: " "))
    }
}

struct EvalModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract:
            "Evaluate a run's latest checkpoint on the held-out clips of a stage, optionally with rewritten captions.",
        discussion: """
            Prints held-out NLL (nats/bit) and bit accuracy with the captions, without them, and against the \
            marginal and copy-previous-frame baselines. --replace-words FILE (a JSON object {"word": "other words"}) \
            rewrites every caption first, e.g. into paraphrases the model never saw.
            """
    )

    @Option(help: "The run's training configuration (YAML).", completion: .file(extensions: ["yaml", "yml"]))
    var config: String

    @Option(name: .customLong("run"), help: "The run folder.", completion: .directory)
    var runFolder: String

    @Option(help: "Stage to evaluate (1-based; default: the last).")
    var stage: Int?

    @Option(help: "A JSON object of whole-word replacements applied to every caption.", completion: .file())
    var replaceWords: String?

    @OptionGroup var global: GlobalOptions

    func run() throws {
        var logger = global.makeLogger("videoar.train.eval")
        logger.logLevel = global.verbose ? .debug : .warning
        let configuration = try loadConfiguration(ModelTrainingConfiguration.self, from: config)
        useTorchThreads(configuration.threads)
        var rewrite: ((String) -> String)? = nil
        if let replaceWords {
            guard let data = FileManager.default.contents(atPath: replaceWords),
                let table = try? JSONDecoder().decode([String: String].self, from: data)
            else {
                throw ValidationError("--replace-words: \(replaceWords) is not a readable JSON object of strings")
            }
            rewrite = { caption in
                caption.split(separator: " ", omittingEmptySubsequences: false).map { table[String($0)] ?? String($0) }
                    .joined(separator: " ")
            }
        }
        let trainer = try exiting(on: TrainerError.self) {
            try ModelTrainer(configuration: configuration, runDirectory: runFolder, resume: true, logger: logger)
        }
        let index = (stage ?? configuration.stages.count) - 1
        guard configuration.stages.indices.contains(index) else {
            throw ValidationError("--stage must be 1…\(configuration.stages.count)")
        }
        guard let e = try trainer.evaluate(stage: index, rewrite: rewrite) else {
            printError("error: stage \(configuration.stages[index].name) has no held-out clips")
            throw ExitCode(2)
        }
        print(
            String(
                format: "step %d, stage %@, %d held-out clips%@: nll %.4f (without captions %.4f), accuracy %.1f%%; "
                    + "baselines: marginal %.4f, copy-previous-frame %.4f", trainer.nextStep, e.stage, e.clips,
                rewrite == nil ? "" : " (captions rewritten)", e.nll, e.unconditionalNLL, e.accuracy * 100,
                e.marginalNLL ?? .nan, e.copyNLL ?? .nan))
    }
}
