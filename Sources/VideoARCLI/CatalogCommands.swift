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
    @Option(help: "Daemon configuration (YAML, see Configs/daemon.yaml).", completion: .file(extensions: ["yaml", "yml"]))
    var config: String?

    @Option(help: "Data folder (catalog.sqlite and shards/); overrides the configuration's data_folder.", completion: .directory)
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
        if !creating && !FileManager.default.fileExists(atPath: configuration.catalogPath) {
            printError("error: no catalog at \(configuration.catalogPath); run `videoar ingest PATH` or `videoar serve` first, or pass --data")
            throw ExitCode(1)
        }
        try FileManager.default.createDirectory(atPath: configuration.dataFolder, withIntermediateDirectories: true)
        return (configuration, try Catalog(path: configuration.catalogPath))
    }
}

/// The tokenizer a configuration names: its checkpoint; else the seeded layout of its
/// `config`; else the shipped trained default.
func makeTokenizer(_ configuration: IngestConfiguration, logger: Logger) throws -> Tokenizer {
    Torch.threads = configuration.threads == 0 ? Torch.availableCores : configuration.threads
    return try DefaultTokenizer.make(checkpoint: configuration.tokenizer.checkpoint, layout: configuration.tokenizer.config,
                                     logger: logger)
}

struct IngestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Run the ingest pipeline once over files or folders, then exit.",
        discussion: "Safe while `videoar serve` runs on the same data folder. Resumes where an interrupted run stopped."
    )

    @Argument(help: "Video/image files or folders (recursive).", completion: .file())
    var paths: [String]

    @OptionGroup var data: DataOptions
    @OptionGroup var global: GlobalOptions

    func run() throws {
        let logger = global.makeLogger("videoar.ingest")
        let (configuration, catalog) = try data.openCatalog(creating: true)
        let tokenizer = try makeTokenizer(configuration, logger: logger)
        print("tokenizer \(tokenizer.identity)")
        let pipeline = try IngestPipeline(configuration: configuration, catalog: catalog, tokenizer: tokenizer, logger: logger)
        let (removed, recovered) = try pipeline.recover()
        if removed + recovered > 0 { print("recovered: \(removed) unsealed shard file(s) removed, \(recovered) interrupted source(s) resumed") }
        let registered = try pipeline.scan(paths)
        print("\(registered) new or changed file(s) registered")
        let start = Date()
        let interactive = isatty(STDERR_FILENO) != 0
        try pipeline.processAll { progress in
            guard interactive else { return }
            let rate = Double(progress.clips) / max(Date().timeIntervalSince(start), 0.001)
            let name = progress.current.map { URL(fileURLWithPath: $0).lastPathComponent } ?? "sealing"
            let line = String(format: "\r\u{1B}[K%d files, %d clips, %d shards, %.1f clips/s  ",
                                  progress.sources, progress.clips, progress.shards, rate) + name
            FileHandle.standardError.write(Data(line.utf8))
        }
        if interactive { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        let p = pipeline.progress
        let seconds = Date().timeIntervalSince(start)
        print("\(p.sources) file(s): \(p.done) done (\(p.aliases) duplicate content), \(p.rejected) rejected, \(p.failed) failed; "
              + "\(p.clips) new clip(s) (\(p.skippedClips) already sealed) in \(p.shards) shard(s); "
              + String(format: "%.1f s of video in %.1f s", p.videoSeconds, seconds))
        if p.rejected + p.failed > 0 { print("see `videoar status --data \(configuration.dataFolder)` for the reasons") }
    }
}

struct QueryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Find clips (or their shards) by size, frames, duration, aspect and caption.",
        discussion: "Totals (clips, tokens, hours of video) always cover every match; --limit caps the rows shown."
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case table, json, paths }

    @Option(help: "Bucket size √(H·W).") var size: Int?
    @Option(help: "Exact frames per clip.") var frames: Int?
    @Option(help: "At least this many frames.") var minFrames: Int?
    @Option(help: "At least this many seconds.") var minDuration: Double?
    @Option(help: "At most this many seconds.") var maxDuration: Double?
    @Option(help: "Aspect ratio, e.g. 16:9.") var aspect: String?
    @Option(help: "Caption full-text search (FTS5: words, \"phrases\", prefix*).") var caption: String?
    @Option(help: "table, json, or paths (the matching shard files).") var format: Format = .table
    @Option(help: "Rows to show.") var limit: Int = 20

    @OptionGroup var data: DataOptions

    func run() throws {
        let (configuration, catalog) = try data.openCatalog()
        let result: ClipQueryResult
        do {
            result = try catalog.query(ClipQuery(size: size, frames: frames, minFrames: minFrames, minDuration: minDuration,
                                                 maxDuration: maxDuration, aspect: aspect, caption: caption, limit: limit))
        } catch let error as CatalogError {
            printError("error: \(error.message)")
            throw ExitCode(64)
        }
        switch format {
        case .paths:
            for path in result.shardPaths { print(configuration.dataFolder + "/" + path) }
        case .json:
            let object: [String: Any] = [
                "total_clips": result.totalClips, "total_tokens": result.totalTokens, "total_seconds": result.totalSeconds,
                "shards": result.shardPaths.map { configuration.dataFolder + "/" + $0 },
                "clips": result.clips.map { m -> [String: Any] in
                    ["id": m.clip.id, "source": m.sourcePath, "bucket": m.clip.bucket, "frames": m.clip.frames, "fps": m.clip.fps,
                     "start": m.clip.startTime, "duration": m.clip.duration, "aspect": m.clip.aspect,
                     "shard": configuration.dataFolder + "/" + m.shardPath, "row": m.clip.row]
                },
            ]
            print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]), as: UTF8.self))
        case .table:
            print("clip id              bucket              frames  start s   dur s  source")
            for m in result.clips {
                print(String(format: "%-20lld ", m.clip.id) + m.clip.bucket.padding(toLength: 20, withPad: " ", startingAt: 0)
                      + String(format: "%6d %8.3f %7.3f  ", m.clip.frames, m.clip.startTime, m.clip.duration) + m.sourcePath)
            }
            if result.totalClips > result.clips.count { print("… \(result.totalClips - result.clips.count) more (raise --limit)") }
            print(String(format: "total: %d clips, %d tokens, %.3f hours of video, in %d shard(s)",
                         result.totalClips, result.totalTokens, result.totalSeconds / 3600, result.shardPaths.count))
        }
    }
}

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Sources by state, clips by bucket, recent errors.")
    @OptionGroup var data: DataOptions

    func run() throws {
        let (configuration, catalog) = try data.openCatalog()
        let status = try catalog.status()
        print("catalog \(configuration.catalogPath)")
        print("sources: " + Catalog.SourceStateOrder.map { "\($0.rawValue) \(status.sources[$0] ?? 0)" }.joined(separator: ", "))
        print(String(format: "shards: %d sealed, %.1f MiB", status.shards, Double(status.shardBytes) / 1_048_576))
        for bucket in status.clipsByBucket {
            print("  \(bucket.bucket) × \(bucket.frames) frames: \(bucket.clips) clips, \(bucket.tokens) tokens")
        }
        if !status.recentErrors.isEmpty {
            print("recent errors:")
            for e in status.recentErrors { print("  [\(e.state.rawValue) \(e.code ?? "?")] \(e.path): \(e.message ?? "")") }
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
        var problems = 0
        let shards = try catalog.shards()
        for shard in shards {
            let path = configuration.dataFolder + "/" + shard.path
            func problem(_ text: String) { problems += 1; print("MISMATCH \(shard.path): \(text)") }
            guard FileManager.default.fileExists(atPath: path) else { problem("the file is missing"); continue }
            let digest = try Shard.digest(path)
            if digest.bytes != shard.bytes { problem("\(digest.bytes) bytes on disk, \(shard.bytes) in the catalog"); continue }
            if digest.sha256 != shard.sha256 { problem("SHA-256 differs from the catalog's"); continue }
            do {
                let file = try Shard(path: path)
                let rows = try catalog.clips(inShard: shard.id!)
                if file.count != shard.clipCount || rows.count != shard.clipCount {
                    problem("\(file.count) rows in the file, \(rows.count) clips and clip_count \(shard.clipCount) in the catalog")
                } else if rows.map(\.id) != file.clipIDs {
                    problem("the file's clip ids are not the catalog's rows")
                }
            } catch { problem("\(error)") }
        }
        print("\(shards.count) sealed shard(s) checked, \(problems) mismatch(es)")
        if problems > 0 { throw ExitCode(1) }
    }
}

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Show a shard's layout and clips.")
    @Argument(help: "A shard file.", completion: .file(extensions: ["safetensors"])) var shard: String
    @OptionGroup var data: DataOptions

    func run() throws {
        let file = try Shard(path: shard)
        let l = file.layout
        print("\(shard)")
        print("  bucket \(l.bucket): \(l.width)×\(l.height), \(l.frames) frames at \(l.fps) fps")
        print("  tokenizer \(l.tokenizerName) \(l.tokenizerID)\(l.tokenizerTrained ? "" : " (UNTRAINED)")")
        print("  latent \(l.latentFrames)×\(l.latentHeight)×\(l.latentWidth), scales " + l.scales.map { "\($0[0])×\($0[1])" }.joined(separator: ", "))
        print("  \(file.count) clip(s), \(l.tokensPerFrame * l.latentFrames) tokens × \(l.bitsPerToken) bits = \(l.bytesPerClip) bytes each")
        let configuration = try data.configuration()
        if FileManager.default.fileExists(atPath: configuration.catalogPath) {
            let catalog = try Catalog(path: configuration.catalogPath)
            let relative = URL(fileURLWithPath: shard).standardizedFileURL.path
                .replacingOccurrences(of: URL(fileURLWithPath: configuration.dataFolder).standardizedFileURL.path + "/", with: "")
            if let record = try catalog.shard(path: relative) {
                for clip in try catalog.clips(inShard: record.id!).prefix(20) {
                    let source = try catalog.source(id: clip.sourceId)?.path ?? "?"
                    print(String(format: "  row %4d  clip %lld  start %.3f s  ", clip.row, clip.id, clip.startTime) + source)
                }
            } else {
                print("  (not in the catalog at \(configuration.catalogPath))")
            }
        }
    }
}
