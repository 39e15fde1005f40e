import ArgumentParser
import Foundation
import Logging
import Tensor
import VideoIO

@main
struct VideoAR: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "videoar",
        abstract: "The data engine for autoregressive video generation: video in, clips and tokens out.",
        discussion: """
            Start with `videoar probe FILE` to see what a file holds and `videoar clips FILE --out DIR`
            to see the clips VideoAR would train on (MP4 plus a contact-sheet PNG per clip).
            """,
        subcommands: [
            ProbeCommand.self, ClipsCommand.self, TokenizeCommand.self, ReconstructCommand.self,
            ServeCommand.self, IngestCommand.self, QueryCommand.self, StatusCommand.self, VerifyCommand.self,
            InspectCommand.self, RetokenizeCommand.self, GarbageCollectCommand.self,
            TokenizerCommand.self, TrainCommand.self, GenerateCommand.self, BenchCommand.self,
        ]
    )
}

/// Options every command shares.
struct GlobalOptions: ParsableArguments {
    @Flag(name: .shortAndLong, help: "Log debug detail to stderr.")
    var verbose = false

    func makeLogger(_ label: String) -> Logger {
        var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = verbose ? .debug : .error
        return logger
    }
}

/// Sets LibTorch's intra-op threads, the one place a command does: called once at its
/// start, so every tensor it runs uses the same pool. nil or 0 means every core.
func useTorchThreads(_ requested: Int?) {
    Torch.threads = requested.flatMap { $0 > 0 ? $0 : nil } ?? Torch.availableCores
    Torch.retainFreedMemory()
}

/// Writes to stderr without buffering (progress and errors).
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

func formatSeconds(_ value: Double?) -> String {
    guard let value else { return "?" }
    return String(format: "%.3f s", value)
}

/// Runs `body`; an error of type `E` — a failure the user can fix, with its message — is
/// printed and the command exits 2; other errors propagate.
func exiting<E: Error, T>(on _: E.Type, _ body: () throws -> T) throws -> T {
    do { return try body() } catch let error as E {
        printError("error: \(error)")
        throw ExitCode(2)
    }
}

/// Writes `count` RGB frames `[T, H, W, 3]` as `base.mp4` and a contact sheet `base.png`.
func writeClip(
    _ pixels: [UInt8], count: Int, width: Int, height: Int, fps: Double, to base: String, columns: Int? = nil
) throws {
    let writer = try VideoWriter(path: base + ".mp4", width: width, height: height, fps: fps)
    let frameBytes = width * height * 3
    for t in 0..<count { try writer.append(rgb: pixels[(t * frameBytes)..<((t + 1) * frameBytes)]) }
    try writer.finish()
    let sheet = contactSheet(frames: pixels, count: count, width: width, height: height, columns: columns)
    try writePNG(rgb: sheet.rgb, width: sheet.width, height: sheet.height, to: base + ".png")
}
