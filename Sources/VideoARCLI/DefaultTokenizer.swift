import Foundation
import Logging
import Tokenizer

/// Where the shipped, trained default tokenizer lives, and how commands find it when run
/// from the repository, from `.build/…/videoar`, or with `VIDEOAR_HOME` set.
enum DefaultTokenizer {
    static let relativePath = "Configs/tokenizer/cpu-small.safetensors"

    /// The first existing copy: $VIDEOAR_HOME, the working folder, then the folders above the executable.
    static func path() -> String? {
        var roots: [URL] = []
        if let home = ProcessInfo.processInfo.environment["VIDEOAR_HOME"] { roots.append(URL(fileURLWithPath: home)) }
        roots.append(URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            roots.append(folder)
            folder = folder.deletingLastPathComponent()
        }
        return roots.map { $0.appendingPathComponent(relativePath).path }.first { FileManager.default.fileExists(atPath: $0) }
    }

    /// `checkpoint` if given; else the seeded layout at `layout` (an explicit request for an
    /// untrained model); else the shipped default; else, with a warning, the seeded default layout.
    static func make(checkpoint: String?, layout: String?, logger: Logger) throws -> Tokenizer {
        if let checkpoint { return try Tokenizer(checkpoint: checkpoint, logger: logger) }
        if let layout {
            return try Tokenizer(configuration: try loadConfiguration(TokenizerConfiguration.self, from: layout), logger: logger)
        }
        if let shipped = path() { return try Tokenizer(checkpoint: shipped, logger: logger) }
        printError("warning: the trained default \(relativePath) was not found (set VIDEOAR_HOME to the repository); "
                   + "using the seeded, UNTRAINED tokenizer")
        return try Tokenizer(logger: logger)
    }
}
