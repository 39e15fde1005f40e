import AtomicFiles
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
    public init(
        pipeline: IngestPipeline, logger: Logger, status: (@Sendable (IngestPipeline.Progress, Int) -> Void)? = nil
    ) {
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
                    do {
                        try loop()
                        continuation.resume()
                    } catch { continuation.resume(throwing: error) }
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
        let folders = configuration.ingestFolders.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        let recovery = try pipeline.recover()
        if pipeline.retokenizesOnStart { _ = try pipeline.requeueLackingSources() }
        logger.info(
            "serving",
            metadata: [
                "folders": "\(configuration.ingestFolders)", "data": "\(configuration.dataFolder)",
                "tokenizer": "\(pipeline.tokenizer.identity)", "removed": "\(recovery.removedFiles)",
                "resumed": "\(recovery.sources.resumed)", "rejected": "\(recovery.sources.rejected)",
            ])
        let watcher: FolderWatcher?
        do {
            watcher = try FolderWatcher(folders: folders.filter(Self.isFolder), logger: logger)
            watcher?.start()
        } catch {
            logger.warning("\(error)")
            watcher = nil
        }
        defer { watcher?.stop() }

        var round = Round(settling: Settling(stableSeconds: configuration.watch.stableSeconds), missing: [])
        checkFolders(folders, watcher: watcher, round: &round)
        var failing = false
        var lastStatus = Date.distantPast
        while !stopping.isSet {
            do {
                if failing {
                    // Start again from what the catalog holds, as a restart would.
                    try pipeline.reset()
                    failing = false
                    pipeline.lock.update(error: nil)
                    logger.notice("recovered from the failure; going on")
                }
                try step(folders: folders, watcher: watcher, round: &round)
            } catch {
                // The catalog or the disk failed under us: say so where `status` can see it, wait, go on.
                logger.error("ingest step failed; retrying in 5 s", metadata: ["error": "\(error)"])
                pipeline.lock.update(error: "\(error)")
                failing = true
                for _ in 0..<25 where !stopping.isSet { usleep(200_000) }
            }
            if let status, Date().timeIntervalSince(lastStatus) >= 2 {
                status(pipeline.progress, round.settling.waiting)
                lastStatus = Date()
            }
        }
        if !failing { try pipeline.sealAll() }
        try pipeline.catalog.releaseClaims()
        logger.info("stopped: every open shard sealed")
    }

    /// What the loop carries from one round to the next.
    private struct Round {
        var settling: Settling
        var missing: Set<String>
        var lastRescan = Date.distantPast
        var lastFolderCheck = Date.distantPast
        var lastWork = Date()
    }

    private static func isFolder(_ path: String) -> Bool {
        IngestPipeline.status(of: path)?.isFolder == true
    }

    /// Warns about ingest folders that do not exist (once each) and starts watching those
    /// that appeared; the lock file's report lists the missing ones for `status`.
    private func checkFolders(_ folders: [String], watcher: FolderWatcher?, round: inout Round) {
        let missing = Set(folders.filter { !Self.isFolder($0) })
        for folder in missing.subtracting(round.missing) {
            logger.warning(
                "an ingest folder does not exist; watching for it to appear (create it, or fix ingest_folders)",
                metadata: ["folder": "\(folder)"])
        }
        for folder in round.missing.subtracting(missing) {
            logger.notice("an ingest folder appeared; watching it", metadata: ["folder": "\(folder)"])
            watcher?.add(folder)
        }
        if missing != round.missing { pipeline.lock.update(missingFolders: missing.sorted()) }
        round.missing = missing
        round.lastFolderCheck = Date()
    }

    /// One round: watcher events, a rescan when due, settled files registered, one source processed.
    private func step(folders: [String], watcher: FolderWatcher?, round: inout Round) throws {
        let configuration = pipeline.configuration
        let now = Date()
        if let (paths, overflow) = watcher?.drain() {
            for path in paths { try observe(path, into: &round.settling) }
            if overflow { round.lastRescan = .distantPast }
        }
        if !round.missing.isEmpty && now.timeIntervalSince(round.lastFolderCheck) >= 1 {
            // A missing folder that appears is watched and scanned at once.
            let before = round.missing
            checkFolders(folders, watcher: watcher, round: &round)
            if round.missing != before { round.lastRescan = .distantPast }
        }
        if now.timeIntervalSince(round.lastRescan) >= configuration.watch.rescanSeconds {
            checkFolders(folders, watcher: watcher, round: &round)
            for folder in folders {
                for file in IngestPipeline.candidates(under: folder) { try observe(file, into: &round.settling) }
            }
            round.lastRescan = now
        }
        for path in round.settling.ready(now: now) {
            try pipeline.scan([path])
        }
        if let source = try pipeline.catalog.claimNext() {
            try pipeline.process(source, shouldStop: { stopping.isSet })
            round.lastWork = Date()
        } else {
            if pipeline.hasOpenShards && Date().timeIntervalSince(round.lastWork) >= configuration.watch.idleSealSeconds
            {
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
            for video in IngestPipeline.candidates(under: folder)
            where URL(fileURLWithPath: video).deletingLastPathComponent().path == folder {
                for caption in Captions.find(for: video) {
                    try pipeline.catalog.addCaption(path: video, text: caption.text, origin: caption.origin)
                }
            }
            return
        }
        guard !IngestPipeline.isIgnored(path) else { return }
        guard let status = IngestPipeline.status(of: path) else {
            settling.forget(path)
            if let source = try pipeline.catalog.source(path: path), source.state != .retired {
                if let copy = try pipeline.catalog.retire(path: path) {
                    logger.info(
                        "deleted; its clips now belong to its copy", metadata: ["path": "\(path)", "copy": "\(copy)"])
                } else {
                    logger.info("deleted; its clips left the trainable set", metadata: ["path": "\(path)"])
                }
            }
            return
        }
        // Folders are walked, not ingested; anything else (a FIFO, a device) is registered so
        // that it is rejected with the reason — never opened for reading.
        guard !status.isFolder else { return }
        settling.saw(path, size: status.size, mtime: status.mtime)
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
        let ready = files.filter {
            now.timeIntervalSince($0.value.since) >= stableSeconds && wallclock - $0.value.mtime >= stableSeconds
        }
        .map(\.key).sorted()
        for path in ready { files[path] = nil }
        return ready
    }
}
