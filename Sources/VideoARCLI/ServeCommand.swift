import ArgumentParser
import Catalog
import Foundation
import Ingest
import Logging
import ServiceLifecycle

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Watch the ingest folders and turn every complete video into tokens in shards, until stopped.",
        discussion: """
            With no configuration it watches ./ingest and writes ./data. Files are picked up once their size and
            mtime have been stable for watch.stable_seconds. SIGTERM or SIGINT: stop taking work, seal open shards,
            exit 0. Logs are human lines on a terminal and JSON lines otherwise. `videoar status` shows the daemon's
            health (e.g. a full disk) and ingest folders that do not exist yet. Exit 75: another process writes
            the data folder. Run it under a supervisor (systemd Restart=on-failure): a file that crashes the decoder
            kills the process, is counted on restart, and is rejected after retry.max_crashes.
            """
    )

    @OptionGroup var data: DataOptions

    @Option(
        help: "Also watch this folder (repeatable); replaces the configuration's ingest_folders.",
        completion: .directory)
    var watch: [String] = []

    @Flag(name: .shortAndLong, help: "Log debug detail.")
    var verbose = false

    func run() async throws {
        let interactive = isatty(STDERR_FILENO) != 0
        LoggingSystem.bootstrap { label in
            var handler: LogHandler =
                interactive ? StreamLogHandler.standardError(label: label) : JSONLogHandler(label: label)
            handler.logLevel = verbose ? .debug : .info
            return handler
        }
        let logger = Logger(label: "videoar.serve")
        var (configuration, catalog) = try data.openCatalog(creating: true)
        if !watch.isEmpty { configuration.ingestFolders = watch }
        useTorchThreads(configuration.threads)
        let tokenizer = try makeTokenizer(configuration, logger: logger)
        let pipeline = try data.makePipeline(configuration, catalog: catalog, tokenizer: tokenizer, logger: logger)
        let start = Date()
        let statusLine: @Sendable (IngestPipeline.Progress, Int) -> Void = { progress, waiting in
            let rate = Double(progress.clips) / max(Date().timeIntervalSince(start), 0.001)
            let line = String(
                format: "\r\u{1B}[K%d files (%d done, %d rejected), %d clips, %d shards, %.2f clips/s, %d settling",
                progress.sources, progress.done, progress.rejected, progress.clips, progress.shards, rate, waiting)
            FileHandle.standardError.write(Data(line.utf8))
        }
        let service = IngestService(pipeline: pipeline, logger: logger, status: interactive ? statusLine : nil)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
        if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

/// One JSON object per line on stderr: what log collectors expect from a service.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(
        level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, source: String,
        file: String, function: String, line: UInt
    ) {
        var object: [String: String] = [
            "time": ISO8601DateFormatter().string(from: Date()), "level": level.rawValue,
            "label": label, "message": message.description,
        ]
        for (key, value) in metadata.merging(explicit ?? [:], uniquingKeysWith: { $1 }) {
            object[key] = value.description
        }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
        FileHandle.standardError.write(data + Data("\n".utf8))
    }
}
