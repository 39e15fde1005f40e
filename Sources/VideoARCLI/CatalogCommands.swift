import ArgumentParser
import Catalog
import ConfigCoding
import Foundation
import Ingest
import Logging
import Shards
import Tensor
import Tokenizer

/// Where the catalog and shards are: a daemon configuration, or just a data folder.
struct DataOptions: ParsableArguments {
    @Option(
        help: "Daemon configuration (YAML, see Configs/daemon.yaml).", completion: .file(extensions: ["yaml", "yml"]))
    var config: String?

    @Option(
        help: "Data folder (catalog.sqlite and shards/); overrides the configuration's data_folder.",
        completion: .directory)
    var data: String?

    func configuration() throws -> IngestConfiguration {
        var configuration = IngestConfiguration()
        do {
            if let config { configuration = try loadConfiguration(IngestConfiguration.self, from: config) }
            if let data { configuration.dataFolder = data }
            try configuration.validate()
        } catch let error as ConfigurationError {
            printError("error: \(error)")
            throw ExitCode(64)
        } catch let error as IngestError {
            printError("error: \(config ?? "configuration"): \(error.message)")
            throw ExitCode(64)
        }
        return configuration
    }

    func openCatalog(creating: Bool = false) throws -> (IngestConfiguration, Catalog) {
        let configuration = try configuration()
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: configuration.dataFolder, isDirectory: &isFolder), !isFolder.boolValue
        {
            printError(
                "error: the data folder \(configuration.dataFolder) is a file, not a folder; pass --data DIR or fix data_folder"
            )
            throw ExitCode(64)
        }
        if !creating && !FileManager.default.fileExists(atPath: configuration.catalogPath) {
            printError(
                "error: no catalog at \(configuration.catalogPath); run `videoar ingest PATH` or `videoar serve` first, or pass --data"
            )
            throw ExitCode(1)
        }
        do {
            try FileManager.default.createDirectory(atPath: configuration.dataFolder, withIntermediateDirectories: true)
        } catch {
            printError(
                "error: cannot create the data folder \(configuration.dataFolder): \((error as NSError).localizedDescription)"
            )
            throw ExitCode(1)
        }
        return (configuration, try Catalog(path: configuration.catalogPath))
    }

    /// The pipeline that writes this data folder, or a clear error (exit 75) when another
    /// process already writes it.
    func makePipeline(
        _ configuration: IngestConfiguration, catalog: Catalog, tokenizer: Tokenizer,
        logger: Logger
    ) throws -> IngestPipeline {
        do {
            return try IngestPipeline(
                configuration: configuration, catalog: catalog, tokenizer: tokenizer, logger: logger)
        } catch let error as IngestError where error.code == .busy {
            printError("error: \(error.message)")
            throw ExitCode(75)
        }
    }
}

/// The tokenizer a configuration names: its checkpoint; else the seeded layout of its
/// `config`; else the shipped trained default.
func makeTokenizer(_ configuration: IngestConfiguration, logger: Logger) throws -> Tokenizer {
    try loadTokenizer(
        checkpoint: configuration.tokenizer.checkpoint, layout: configuration.tokenizer.config, logger: logger)
}

struct IngestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Run the ingest pipeline once over files or folders, then exit.",
        discussion: """
            Processes the files under the given paths (and only those), resuming where an interrupted run stopped.
            One process writes a data folder: while `videoar serve` runs on it, copy files into its ingest folder
            instead (ingest says so and exits 75).
            Exit status: 0 every file done; 2 the run finished but some files were rejected or failed (the reasons
            are in `videoar status`); 64 a bad configuration; 66 a path does not exist; 75 another process writes
            the data folder; 1 any other error.
            """
    )

    @Argument(help: "Video/image files or folders (recursive, following links).", completion: .file())
    var paths: [String]

    @OptionGroup var data: DataOptions
    @OptionGroup var global: GlobalOptions

    func run() throws {
        let logger = global.makeLogger("videoar.ingest")
        for path in paths where !FileManager.default.fileExists(atPath: path) {
            printError("error: \(path) does not exist")
            throw ExitCode(66)
        }
        let (configuration, catalog) = try data.openCatalog(creating: true)
        useTorchThreads(configuration.threads)
        let tokenizer = try makeTokenizer(configuration, logger: logger)
        print("tokenizer \(tokenizer.identity)")
        let pipeline = try data.makePipeline(configuration, catalog: catalog, tokenizer: tokenizer, logger: logger)
        let recovery = try pipeline.recover()
        if recovery.removedFiles + recovery.sources.resumed + recovery.sources.rejected > 0 {
            print(
                "recovered: \(recovery.removedFiles) unsealed shard file(s) removed, \(recovery.sources.resumed) interrupted "
                    + "source(s) resumed, \(recovery.sources.rejected) rejected after killing the process too often")
        }
        let registered = try pipeline.scan(paths)
        print("\(registered) new or changed file(s) registered")
        if pipeline.retokenizesOnStart {
            let requeue = try pipeline.requeueLackingSources(under: paths)
            if requeue.queued > 0 {
                print("\(requeue.queued) done file(s) queued again: they lack this tokenizer's tokens")
            }
        }
        try processWithProgress(pipeline, under: paths)
    }
}

/// Runs the pipeline over every claimable source (under `paths`, if given) with a progress
/// line on a terminal, then prints the summary; exit 2 when some file was rejected or failed.
func processWithProgress(_ pipeline: IngestPipeline, under paths: [String]?) throws {
    let start = Date()
    let interactive = isatty(STDERR_FILENO) != 0
    try pipeline.processAll(under: paths) { progress in
        guard interactive else { return }
        let rate = Double(progress.clips) / max(Date().timeIntervalSince(start), 0.001)
        let name = progress.current.map { URL(fileURLWithPath: $0).lastPathComponent } ?? "sealing"
        let line =
            String(
                format: "\r\u{1B}[K%d files, %d clips, %d shards, %.1f clips/s  ",
                progress.sources, progress.clips, progress.shards, rate) + name
        FileHandle.standardError.write(Data(line.utf8))
    }
    if interactive { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    let p = pipeline.progress
    let seconds = Date().timeIntervalSince(start)
    print(
        "\(p.sources) file(s): \(p.done) done (\(p.aliases) duplicate content), \(p.rejected) rejected, \(p.failed) failed; "
            + "\(p.clips) new clip(s) (\(p.skippedClips) already sealed"
            + (p.revivedClips > 0 ? ", \(p.revivedClips) put back from retired rows" : "")
            + ") in \(p.shards) shard(s); "
            + String(format: "%.1f s of video in %.1f s", p.videoSeconds, seconds))
    if p.rejected + p.failed > 0 {
        print("see `videoar status --data \(pipeline.configuration.dataFolder)` for the reasons")
        throw ExitCode(2)
    }
}

struct QueryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Find clips (or their shards) by size, frames, duration, aspect, caption and curation scores.",
        discussion: """
            Totals (clips, tokens, hours of video) always cover every match; --limit caps the rows shown.
            Curation filters (--min-motion, --max-black, --no-near-duplicates, --single-shot) look at each
            clip's scores; clips ingested before curation have none and do not match them.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case table, json, paths }

    @Option(help: "Bucket size √(H·W).") var size: Int?
    @Option(help: "Exact frames per clip.") var frames: Int?
    @Option(help: "At least this many frames.") var minFrames: Int?
    @Option(help: "At least this many seconds.") var minDuration: Double?
    @Option(help: "At most this many seconds.") var maxDuration: Double?
    @Option(help: "Aspect ratio, e.g. 16:9.") var aspect: String?
    @Option(help: "Caption full-text search (FTS5: words, \"phrases\", prefix*).") var caption: String?
    @Option(help: "Smallest motion score (mean frame difference, grey levels 0–255); frozen clips score ~0.")
    var minMotion: Double?
    @Option(help: "Largest share (0–1) of black or single-colour frames.") var maxBlack: Double?
    @Flag(help: "Leave out clips marked near-duplicates of another source's clip.") var noNearDuplicates = false
    @Flag(help: "Only clips known not to span a hard cut.") var singleShot = false
    @Option(help: "table, json, or paths (the matching shard files).") var format: Format = .table
    @Option(help: "Rows to show.") var limit: Int = 20

    @OptionGroup var data: DataOptions
    @OptionGroup var tokenizer: TokenizerChoice
    @OptionGroup var global: GlobalOptions

    func run() throws {
        let (configuration, catalog) = try data.openCatalog()
        let tokenizerID = try tokenizer.resolve(
            configuration, catalog: catalog, logger: global.makeLogger("videoar.query"))
        let result: ClipQueryResult
        do {
            result = try catalog.query(
                ClipQuery(
                    size: size, frames: frames, minFrames: minFrames, minDuration: minDuration,
                    maxDuration: maxDuration, aspect: aspect, caption: caption, tokenizer: tokenizerID, limit: limit,
                    minMotion: minMotion, maxBlack: maxBlack, noNearDuplicates: noNearDuplicates,
                    singleShot: singleShot))
        } catch let error as CatalogError {
            printError("error: \(error.message)")
            throw ExitCode(64)
        }
        switch format {
        case .paths:
            for path in result.shardPaths { print(configuration.dataFolder + "/" + path) }
        case .json:
            let object: [String: Any] = [
                "total_clips": result.totalClips, "total_tokens": result.totalTokens,
                "total_seconds": result.totalSeconds,
                "shards": result.shardPaths.map { configuration.dataFolder + "/" + $0 },
                "clips": result.clips.map { m -> [String: Any] in
                    [
                        "id": m.clip.id, "source": m.sourcePath, "bucket": m.clip.bucket, "frames": m.clip.frames,
                        "fps": m.clip.fps,
                        "start": m.clip.startTime, "duration": m.clip.duration, "aspect": m.clip.aspect,
                        "shard": configuration.dataFolder + "/" + m.shardPath, "row": m.clip.row,
                        "motion": m.clip.motion as Any, "black": m.clip.black as Any, "detail": m.clip.detail as Any,
                        "single_shot": m.clip.singleShot as Any, "duplicate_of": m.clip.duplicateOf as Any,
                    ]
                },
            ]
            print(
                String(
                    decoding: try JSONSerialization.data(
                        withJSONObject: object, options: [.prettyPrinted, .sortedKeys]), as: UTF8.self))
        case .table:
            print("clip id              bucket              frames  start s   dur s  motion black  source")
            for m in result.clips {
                let scores =
                    m.clip.motion.map { String(format: "%6.2f %4.0f%%", $0, 100 * (m.clip.black ?? 0)) }
                    ?? "     -     -"
                print(
                    String(format: "%-20lld ", m.clip.id)
                        + m.clip.bucket.padding(toLength: 20, withPad: " ", startingAt: 0)
                        + String(format: "%6d %8.3f %7.3f ", m.clip.frames, m.clip.startTime, m.clip.duration)
                        + scores + "  " + m.sourcePath
                        + (m.clip.duplicateOf.map { "  (near-duplicate of \($0))" } ?? ""))
            }
            if result.totalClips > result.clips.count {
                print("… \(result.totalClips - result.clips.count) more (raise --limit)")
            }
            print(
                String(
                    format: "total: %d clips, %d tokens, %.3f hours of video, in %d shard(s)",
                    result.totalClips, result.totalTokens, result.totalSeconds / 3600, result.shardPaths.count))
        }
    }
}

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract:
            "The writer process and its health, sources by state, tokenizers, clips by bucket, recent errors and notes."
    )
    @OptionGroup var data: DataOptions
    @OptionGroup var tokenizer: TokenizerChoice
    @OptionGroup var global: GlobalOptions

    func run() throws {
        let (configuration, catalog) = try data.openCatalog()
        let selected = try tokenizer.resolve(
            configuration, catalog: catalog, logger: global.makeLogger("videoar.status"))
        print("catalog \(configuration.catalogPath)")
        if let writer = DataFolderLock.read(folder: configuration.dataFolder), DataFolderLock.isAlive(writer) {
            let since = Date(timeIntervalSince1970: writer.startedAt).formatted(date: .omitted, time: .standard)
            print("writer: `\(writer.command)` (pid \(writer.pid)), running since \(since)")
            if let error = writer.error {
                let minutes = (Date().timeIntervalSince1970 - (writer.errorSince ?? writer.updatedAt)) / 60
                print(String(format: "  ERROR for %.1f min, retrying every 5 s: ", minutes) + error)
            }
            for folder in writer.missingFolders {
                print("  WARNING: ingest folder \(folder) does not exist (watching for it)")
            }
        } else {
            print("writer: none running")
        }
        let status = try catalog.status(tokenizer: selected)
        print(
            "sources: "
                + Catalog.SourceStateOrder.map { "\($0.rawValue) \(status.sources[$0] ?? 0)" }.joined(separator: ", "))
        try printTokenizers(catalog, selected: selected)
        print(
            String(format: "shards: %d sealed, %.1f MiB", status.shards, Double(status.shardBytes) / 1_048_576)
                + (selected.map { " (tokenizer \($0); --tokenizer all for every tokenizer's)" } ?? ""))
        for bucket in status.clipsByBucket {
            print("  \(bucket.bucket) × \(bucket.frames) frames: \(bucket.clips) clips, \(bucket.tokens) tokens")
        }
        let curation = try catalog.curationStatus(tokenizer: selected)
        print(
            "curation: \(curation.cuts) hard cut(s) in done sources; clips dropped: \(curation.droppedStatic) static, "
                + "\(curation.droppedBlack) black, \(curation.droppedBlurry) blurry; live clips: \(curation.scored) scored, "
                + "\(curation.nearDuplicates) near-duplicate(s), \(curation.multiShot) spanning a cut")
        let errors = status.recentErrors.filter { $0.state != .done }
        let notes = status.recentErrors.filter { $0.state == .done }
        if !errors.isEmpty {
            print("recent errors:")
            for e in errors { print("  [\(e.state.rawValue) \(e.code ?? "?")] \(e.path): \(e.message ?? "")") }
        }
        if !notes.isEmpty {
            print("done with notes (damaged files whose good clips were kept, sources curation left empty):")
            for e in notes { print("  [\(e.code ?? "?")] \(e.path): \(e.message ?? "")") }
        }
    }
}

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every sealed shard's hash, size and rows against the catalog; exit 1 on any mismatch."
    )
    @OptionGroup var data: DataOptions

    func run() throws {
        let (configuration, catalog) = try data.openCatalog()
        let report = try ShardVerification.verify(catalog, dataFolder: configuration.dataFolder)
        for problem in report.problems { print("MISMATCH \(problem)") }
        print("\(report.shards) sealed shard(s) checked, \(report.problems.count) mismatch(es)")
        if !report.problems.isEmpty { throw ExitCode(1) }
    }
}

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a shard's layout and clips, and check its SHA-256 against the catalog; exit 1 on a mismatch.",
        discussion:
            "The catalog is --data's (or --config's), else the nearest catalog.sqlite in a folder above the shard."
    )
    @Argument(help: "A shard file.", completion: .file(extensions: ["safetensors"])) var shard: String
    @OptionGroup var data: DataOptions

    /// The data folder that should know this shard: the options' when given, else the nearest
    /// folder above it holding a catalog (shards live in DATA/shards/…), so a bare
    /// `inspect data/shards/x.safetensors` is still checked.
    func dataFolder() throws -> String? {
        if data.config != nil || data.data != nil { return try data.configuration().dataFolder }
        var folder = URL(fileURLWithPath: shard).resolvingSymlinksInPath().deletingLastPathComponent()
        while true {
            if FileManager.default.fileExists(atPath: folder.appendingPathComponent("catalog.sqlite").path) {
                return folder.path
            }
            let parent = folder.deletingLastPathComponent()
            if parent.path == folder.path { return nil }
            folder = parent
        }
    }

    func run() throws {
        print("\(shard)")
        // The hash first: a damaged shard may not parse, and a parsed one may still be damaged.
        var record: (catalog: Catalog, shard: ShardRecord)?
        var mismatch = false
        if let folder = try dataFolder(), FileManager.default.fileExists(atPath: folder + "/catalog.sqlite") {
            let catalog = try Catalog(path: folder + "/catalog.sqlite")
            let root = URL(fileURLWithPath: folder).resolvingSymlinksInPath().path + "/"
            let file = URL(fileURLWithPath: shard).resolvingSymlinksInPath().path
            if file.hasPrefix(root), let found = try catalog.shard(path: String(file.dropFirst(root.count))) {
                record = (catalog, found)
                if let text = try ShardVerification.mismatch(of: found, atPath: shard) {
                    print("  sha256 MISMATCH: \(text)")
                    mismatch = true
                } else {
                    print("  sha256: matches the catalog")
                }
            } else {
                print("  sha256: not checked (the catalog at \(catalog.path) has no record of this shard)")
            }
        } else {
            print("  sha256: not checked (no catalog found for this shard)")
        }
        let file = try Shard(path: shard)
        let l = file.layout
        print("  bucket \(l.bucket): \(l.width)×\(l.height), \(l.frames) frames at \(l.fps) fps")
        print("  tokenizer \(l.tokenizerName) \(l.tokenizerID)\(l.tokenizerTrained ? "" : " (UNTRAINED)")")
        print(
            "  latent \(l.latentFrames)×\(l.latentHeight)×\(l.latentWidth), scales "
                + l.scales.map { "\($0[0])×\($0[1])" }.joined(separator: ", "))
        print(
            "  \(file.count) clip(s), \(l.tokensPerFrame * l.latentFrames) tokens × \(l.bitsPerToken) bits = \(l.bytesPerClip) bytes each"
        )
        if let record {
            for clip in try record.catalog.clips(inShard: record.shard.id!).prefix(20) {
                let source = try record.catalog.source(id: clip.sourceId)?.path ?? "?"
                print(
                    String(format: "  row %4d  clip %lld  start %.3f s  ", clip.row, clip.id, clip.startTime) + source)
            }
        }
        if mismatch { throw ExitCode(1) }
    }
}
