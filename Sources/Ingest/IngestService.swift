import Catalog
import Foundation
import Logging
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// `videoar serve`: watches the ingest folders and runs the pipeline for as long as the
/// process lives. A `Service` for a `ServiceGroup`: on SIGTERM/SIGINT it stops taking work,
/// stops the current source between clips, seals every open shard and returns.
public final class IngestService: Service, @unchecked Sendable {
    private let pipeline: IngestPipeline
    private let logger: Logger
    private let status: (@Sendable (IngestPipeline.Progress, Int) -> Void)?
    private let stopping = StopFlag()

    /// - Parameter status: called about every 2 s with progress and the number of files waiting to settle.
    public init(pipeline: IngestPipeline, logger: Logger, status: (@Sendable (IngestPipeline.Progress, Int) -> Void)? = nil) {
        self.pipeline = pipeline
        self.logger = logger
        self.status = status
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
                // The pipeline blocks (decoding, LibTorch), so it gets a thread of its own
                // rather than one of the few cooperative ones.
                let thread = Thread { [self] in
                    do { try loop(); continuation.resume() } catch { continuation.resume(throwing: error) }
                }
                thread.name = "videoar.ingest"
                thread.stackSize = 8 << 20
                thread.start()
            }
        } onGracefulShutdown: { [stopping, logger] in
            logger.info("shutting down: finishing the current clip, sealing open shards")
            stopping.set()
        }
    }

    private func loop() throws {
        let configuration = pipeline.configuration
        for folder in configuration.ingestFolders {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
        let (removed, recovered) = try pipeline.recover()
        logger.info("serving", metadata: ["folders": "\(configuration.ingestFolders)", "data": "\(configuration.dataFolder)",
                                          "tokenizer": "\(pipeline.tokenizer.identity)", "removed": "\(removed)", "resumed": "\(recovered)"])
        let watcher: FolderWatcher?
        do {
            watcher = try FolderWatcher(folders: configuration.ingestFolders.map { URL(fileURLWithPath: $0).standardizedFileURL.path },
                                        logger: logger)
            watcher?.start()
        } catch {
            logger.warning("\(error)")
            watcher = nil
        }
        defer { watcher?.stop() }

        var settling = Settling(stableSeconds: configuration.watch.stableSeconds)
        var lastRescan = Date.distantPast
        var lastWork = Date()
        var lastStatus = Date.distantPast
        while !stopping.isSet {
            do {
                try step(watcher: watcher, settling: &settling, lastRescan: &lastRescan, lastWork: &lastWork)
            } catch {
                // The catalog or the disk failed under us: say so, wait, and go on.
                logger.error("ingest step failed; retrying in 5 s", metadata: ["error": "\(error)"])
                for _ in 0..<25 where !stopping.isSet { usleep(200_000) }
            }
            if let status, Date().timeIntervalSince(lastStatus) >= 2 {
                status(pipeline.progress, settling.waiting)
                lastStatus = Date()
            }
        }
        try pipeline.sealAll()
        try pipeline.catalog.recoverInterrupted()
        logger.info("stopped: every open shard sealed")
    }

    /// One round: watcher events, a rescan when due, settled files registered, one source processed.
    private func step(watcher: FolderWatcher?, settling: inout Settling, lastRescan: inout Date, lastWork: inout Date) throws {
        let configuration = pipeline.configuration
        let now = Date()
        if let (paths, overflow) = watcher?.drain() {
            for path in paths { try observe(path, into: &settling) }
            if overflow { lastRescan = .distantPast }
        }
        if now.timeIntervalSince(lastRescan) >= configuration.watch.rescanSeconds {
            for folder in configuration.ingestFolders {
                for file in IngestPipeline.candidates(under: folder) { try observe(file, into: &settling) }
            }
            lastRescan = now
        }
        for path in settling.ready(now: now) {
            try pipeline.scan([path])
        }
        if let source = try pipeline.catalog.claimNext() {
            try pipeline.process(source, shouldStop: { stopping.isSet })
            lastWork = Date()
        } else {
            if pipeline.hasOpenShards && Date().timeIntervalSince(lastWork) >= configuration.watch.idleSealSeconds {
                try pipeline.sealAll()
            }
            usleep(200_000)
        }
    }

    /// A changed path: a video to settle, captions to attach, or a deletion to record.
    private func observe(_ path: String, into settling: inout Settling) throws {
        let path = URL(fileURLWithPath: path).standardizedFileURL.path
        if Captions.isCaptionFile(path) {
            // Captions may arrive after their video: attach them to every registered video they name.
            let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
            for video in IngestPipeline.candidates(under: folder) where URL(fileURLWithPath: video).deletingLastPathComponent().path == folder {
                for caption in Captions.find(for: video) {
                    try pipeline.catalog.addCaption(path: video, text: caption.text, origin: caption.origin)
                }
            }
            return
        }
        guard !IngestPipeline.isIgnored(path) else { return }
        var info = stat()
        if stat(path, &info) != 0 {
            settling.forget(path)
            if try pipeline.catalog.source(path: path) != nil { try pipeline.catalog.retire(path: path) }
            return
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else { return }
        let mtime = Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
        settling.saw(path, size: Int64(info.st_size), mtime: mtime)
    }
}

/// Files waiting for their size and mtime to stop changing (a copy still in progress).
struct Settling {
    let stableSeconds: Double
    private var files: [String: (size: Int64, mtime: Double, since: Date)] = [:]

    init(stableSeconds: Double) { self.stableSeconds = stableSeconds }

    var waiting: Int { files.count }

    mutating func saw(_ path: String, size: Int64, mtime: Double) {
        if let known = files[path], known.size == size, known.mtime == mtime { return }
        files[path] = (size, mtime, Date())
    }

    mutating func forget(_ path: String) { files[path] = nil }

    /// Files unchanged for `stableSeconds` (and last modified at least that long ago); forgotten once returned.
    mutating func ready(now: Date) -> [String] {
        let wallclock = now.timeIntervalSince1970
        let ready = files.filter { now.timeIntervalSince($0.value.since) >= stableSeconds && wallclock - $0.value.mtime >= stableSeconds }
            .map(\.key).sorted()
        for path in ready { files[path] = nil }
        return ready
    }
}

/// A flag set from one thread and read from another.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}
