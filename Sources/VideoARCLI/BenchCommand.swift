import ArgumentParser

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks that compare VideoAR with its peers on this machine, in one run.",
        subcommands: [DecodeBench.self, TokenizerBench.self, IngestBench.self, TrainBench.self, GenerateBench.self]
    )
}
