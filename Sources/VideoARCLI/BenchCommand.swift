import ArgumentParser
import Dispatch
import Foundation
import Tensor

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks that compare VideoAR with its peers on this machine, in one run.",
        subcommands: [
            DecodeBench.self, TokenizerBench.self, IngestBench.self, TrainBench.self, GenerateBench.self,
            AblationBench.self,
        ]
    )
}

/// GFLOP/s of a 1024×1024×1024 float32 LibTorch matmul (best of 5 × 10): the machine's reference.
func matmulGFLOPs() throws -> Double {
    let g = Generator(seed: 1)
    let a = try Tensor.randn([1024, 1024], generator: g), b = try Tensor.randn([1024, 1024], generator: g)
    _ = try a.matmul(b)
    var best = Double.infinity
    for _ in 0..<5 {
        let start = DispatchTime.now()
        for _ in 0..<10 { _ = try a.matmul(b) }
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9 / 10)
    }
    return 2 * pow(1024, 3) / best / 1e9
}

/// The process's peak resident memory so far (max RSS), in MiB.
func peakResidentMiB() -> Double {
    var usage = rusage()
    getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_maxrss) / 1024
}
