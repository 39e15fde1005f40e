import ArgumentParser
import Catalog
import Foundation
import Ingest
import Logging
import Tokenizer

/// Whose shards a catalog command looks at: the configured tokenizer's unless told otherwise.
struct TokenizerChoice: ParsableArguments {
    @Option(
        name: .customLong("tokenizer"),
        help: """
            Whose clips: a tokenizer id (or its first characters), its name, a checkpoint (.safetensors), \
            or `all`. Default: the configured tokenizer (tokenizer.checkpoint, else the shipped default).
            """)
    var tokenizer: String?

    /// The tokenizer id to filter on; nil for every tokenizer.
    func resolve(_ configuration: IngestConfiguration, catalog: Catalog, logger: Logger) throws -> String? {
        try Self.resolve(tokenizer, configuration, catalog: catalog, logger: logger)
    }

    /// What `--tokenizer` (or `gc --keep`) names: an id, nil for `all`.
    static func resolve(
        _ tokenizer: String?, _ configuration: IngestConfiguration, catalog: Catalog, logger: Logger
    ) throws -> String? {
        guard let tokenizer else { return try makeTokenizer(configuration, logger: logger).identity.id }
        if tokenizer == "all" { return nil }
        if tokenizer.hasSuffix(".safetensors") {
            return try loadTokenizer(checkpoint: tokenizer, layout: nil, logger: logger).identity.id
        }
        let known = try catalog.tokenizerUsage()
        let matches = known.filter { $0.id.hasPrefix(tokenizer) || $0.name == tokenizer }
        guard matches.count == 1 else {
            printError(
                "error: --tokenizer \(tokenizer) matches \(matches.count) of the catalog's tokenizers; known: "
                    + known.map { "\($0.id) (\($0.name))" }.joined(separator: ", ") + ", or `all`")
            throw ExitCode(64)
        }
        return matches[0].id
    }
}

/// Prints every tokenizer of the catalog, marking `selected`, and what it still lacks.
func printTokenizers(_ catalog: Catalog, selected: String?) throws {
    let usage = try catalog.tokenizerUsage()
    guard !usage.isEmpty else { return }
    print("tokenizers:")
    for t in usage {
        let mark = t.id == selected ? "*" : " "
        print(
            String(
                format: "%@ %@ %@%@: %d shard(s), %.1f MiB, %d live clip(s), %d source(s) complete", mark, t.id, t.name,
                t.trained ? "" : " (UNTRAINED)", t.shards, Double(t.bytes) / 1_048_576, t.liveClips, t.completeSources))
    }
    guard let selected else { return }
    let lacking = try catalog.sourcesLacking(tokenizer: selected)
    let underway =
        try catalog.sourcesLacking(tokenizer: selected, state: .pending).count
        + catalog.sourcesLacking(tokenizer: selected, state: .processing).count
    if underway > 0 { print("  \(underway) source(s) pending or in progress for the selected tokenizer (*)") }
    if lacking.isEmpty {
        print("  every done source has tokens of the selected tokenizer (*)")
        return
    }
    let gone = lacking.filter { !FileManager.default.fileExists(atPath: $0.path) }
    print(
        "  \(lacking.count) done source(s) still lack tokens of the selected tokenizer (*): the daemon re-queues them on start, "
            + "or run `videoar retokenize`")
    for source in gone.prefix(10) { print("  cannot re-tokenize, the file is gone: \(source.path)") }
    if gone.count > 10 { print("  … and \(gone.count - 10) more whose file is gone") }
}

struct RetokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retokenize",
        abstract: "Tokenize every ingested source again with a new tokenizer, from its original file.",
        discussion: """
            Re-queues the done sources the tokenizer has no tokens for and processes them (with any other pending
            source), like a first ingest: crash-safe, resumable, nothing sealed twice. The old shards stay queryable
            (`--tokenizer ID`) until `videoar gc` removes them. Sources whose file is gone are listed and keep their
            old clips. While `videoar serve` writes the data folder this exits 75: the daemon re-queues by itself on
            start (tokenizer.retokenize).
            Exit status: 0 all done; 2 some files were rejected or failed, or some files are gone; 64 bad options;
            75 another process writes the data folder; 1 any other error.
            """)

    @Option(
        name: .customLong("tokenizer"),
        help: "The new tokenizer's checkpoint (.safetensors); default: the configured one.",
        completion: .file(extensions: ["safetensors"]))
    var checkpoint: String?

    @OptionGroup var data: DataOptions
    @OptionGroup var global: GlobalOptions

    func run() throws {
        let logger = global.makeLogger("videoar.retokenize")
        let (configuration, catalog) = try data.openCatalog()
        useTorchThreads(configuration.threads)
        let tokenizer =
            try checkpoint.map { try loadTokenizer(checkpoint: $0, layout: nil, logger: logger) }
            ?? makeTokenizer(configuration, logger: logger)
        print("tokenizer \(tokenizer.identity)")
        let pipeline = try data.makePipeline(configuration, catalog: catalog, tokenizer: tokenizer, logger: logger)
        let recovery = try pipeline.recover()
        if recovery.sources.resumed > 0 {
            print("resuming \(recovery.sources.resumed) interrupted source(s)")
        }
        let requeue = try pipeline.requeueLackingSources()
        print("\(requeue.queued) source(s) queued for re-tokenizing")
        for (path, copy) in requeue.handedOver.sorted(by: { $0.key < $1.key }) {
            print("the file is gone, re-tokenizing its copy (which now holds its clips): \(path) → \(copy)")
        }
        for path in requeue.missing { print("cannot re-tokenize, the file is gone (its old clips stay): \(path)") }
        try processWithProgress(pipeline, under: nil)
        if !requeue.missing.isEmpty { throw ExitCode(2) }
    }
}

struct GarbageCollectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Remove the shards of tokenizers no longer wanted, atomically with the catalog.",
        discussion: """
            Keeps the configured tokenizer's shards and those named by --keep; removes every other tokenizer's shards,
            clips and records: the catalog first (one transaction), then the files (a crash in between leaves only
            unlisted files, which the next writer removes). Refuses while a source would lose its only clips (run
            `videoar retokenize` first, or --force). Needs the data folder to itself: stop `videoar serve` first.
            Exit status: 0 done; 1 refused or failed; 64 bad options; 75 another process writes the data folder.
            """)

    @Option(help: "Also keep this tokenizer (an id or its first characters, or a name); repeatable.")
    var keep: [String] = []
    @Flag(help: "Only show what would be removed.") var dryRun = false
    @Flag(help: "Remove even shards holding a source's only clips.") var force = false

    @OptionGroup var data: DataOptions
    @OptionGroup var global: GlobalOptions

    func run() throws {
        let logger = global.makeLogger("videoar.gc")
        let (configuration, catalog) = try data.openCatalog()
        let tokenizer = try makeTokenizer(configuration, logger: logger)
        var kept: Set<String> = [tokenizer.identity.id]
        for name in keep {
            guard let id = try TokenizerChoice.resolve(name, configuration, catalog: catalog, logger: logger)
            else { continue }  // `all`
            kept.insert(id)
        }
        if keep.contains("all") {
            print("nothing to do: --keep all keeps every tokenizer")
            return
        }
        let doomed = try catalog.tokenizerUsage().filter { !kept.contains($0.id) }
        print("keeping \(kept.sorted().joined(separator: ", ")) (configured: \(tokenizer.identity))")
        if doomed.isEmpty {
            print("nothing to remove")
            return
        }
        for t in doomed {
            print(
                String(
                    format: "%@ %@ %@: %d shard(s), %.1f MiB, %d live clip(s)", dryRun ? "would remove" : "removing",
                    t.id, t.name, t.shards, Double(t.bytes) / 1_048_576, t.liveClips))
        }
        let stranded = try catalog.sourcesStranded(keeping: kept)
        if !stranded.isEmpty {
            print("\(stranded.count) source(s) have clips only from these tokenizers, e.g. \(stranded[0])")
        }
        if dryRun { return }
        if !tokenizer.identity.trained, doomed.contains(where: \.trained), !force {
            printError(
                "error: the configured tokenizer \(tokenizer.identity) is UNTRAINED and gc would remove trained tokens; "
                    + "name the trained tokenizer in tokenizer.checkpoint (is the shipped one missing?), or pass --force"
            )
            throw ExitCode(1)
        }
        let pipeline = try data.makePipeline(configuration, catalog: catalog, tokenizer: tokenizer, logger: logger)
        do {
            let removal = try pipeline.removeTokenizers(keeping: kept, strand: force)
            print(
                String(
                    format: "removed %d tokenizer(s): %d shard file(s), %d clip record(s), %.1f MiB",
                    removal.tokenizers.count, removal.shardPaths.count, removal.clips,
                    Double(removal.bytes) / 1_048_576))
        } catch let error as IngestError where error.code == .stranding {
            printError("error: \(error.message)")
            throw ExitCode(1)
        }
    }
}
