import Foundation
import Logging

/// Which tokenizer to load, in one order for every program: a named checkpoint; else a
/// layout's seeded, untrained model (asked for explicitly); else the shipped, trained
/// default; else, with a warning, the seeded default layout.
public enum TokenizerLocator {
    /// The shipped, trained default, relative to the repository.
    public static let shippedCheckpoint = "Configs/tokenizer/cpu-f8.safetensors"

    /// The first existing copy of the shipped default: under $VIDEOAR_HOME, the working
    /// folder, then the folders above the executable (so `.build/…/videoar` finds it).
    public static func shippedCheckpointPath() -> String? { shippedFile(shippedCheckpoint) }

    /// The first existing copy of a file shipped in the repository (`relative` to its root),
    /// searched where `shippedCheckpointPath()` searches.
    public static func shippedFile(_ relative: String) -> String? {
        var roots: [URL] = []
        if let home = ProcessInfo.processInfo.environment["VIDEOAR_HOME"] { roots.append(URL(fileURLWithPath: home)) }
        roots.append(URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent()
        for _ in 0..<5 {
            roots.append(folder)
            folder = folder.deletingLastPathComponent()
        }
        return roots.map { $0.appendingPathComponent(relative).path }.first {
            FileManager.default.fileExists(atPath: $0)
        }
    }

    /// The shipped tokenizer (any `Configs/tokenizer/*.safetensors`) whose identity is `id`, if
    /// one is: a model trained on an earlier default's tokens still finds its decoder.
    public static func shipped(id: String, logger: Logger) -> Tokenizer? {
        guard let folder = shippedFile("Configs/tokenizer"),
            let names = try? FileManager.default.contentsOfDirectory(atPath: folder)
        else { return nil }
        for name in names.sorted() where name.hasSuffix(".safetensors") {
            if let tokenizer = try? Tokenizer(checkpoint: folder + "/" + name, logger: logger),
                tokenizer.identity.id == id
            {
                return tokenizer
            }
        }
        return nil
    }

    /// The tokenizer to use.
    /// - Parameters:
    ///   - checkpoint: weights to load; wins over everything else.
    ///   - layout: a layout file for a seeded, untrained model, read by `readLayout` (the
    ///     caller's configuration format) only when no checkpoint is given.
    ///   - warn: told, in words for people, when it falls back to the untrained default.
    public static func load(
        checkpoint: String?, layout: String?, readLayout: (String) throws -> TokenizerConfiguration,
        logger: Logger, warn: (String) -> Void
    ) throws -> Tokenizer {
        if let checkpoint { return try Tokenizer(checkpoint: checkpoint, logger: logger) }
        if let layout { return try Tokenizer(configuration: try readLayout(layout), logger: logger) }
        if let shipped = shippedCheckpointPath() { return try Tokenizer(checkpoint: shipped, logger: logger) }
        warn(
            "the trained default \(shippedCheckpoint) was not found (set VIDEOAR_HOME to the repository); "
                + "using the seeded, UNTRAINED tokenizer")
        return try Tokenizer(logger: logger)
    }
}
