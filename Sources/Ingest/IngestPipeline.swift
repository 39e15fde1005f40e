import AtomicFiles
import Catalog
import Crypto
import Foundation
import Logging
import Shards
import Tensor
import Tokenizer
import VideoIO
#if canImport(Glibc)
import Glibc
#endif

/// files → clips → tokens → shards, indexed in the catalog.
///
/// Crash safety comes from the order of writes, not from luck:
/// 1. a shard is written under a temporary name, fsynced and renamed into place;
/// 2. only then one catalog transaction records the shard, its clips and the sources it completes;
/// 3. on start, shard files the catalog does not list as sealed are deleted, and sources left
///    `processing` go back to `pending`;
/// 4. clip ids are hashes of (content, bucket, frames, fps, index, tokenizer), so reprocessing a
///    source skips the clips already sealed: nothing is duplicated, nothing is lost.
/// A source is `done` once every clip it produced is in a sealed shard.
///
/// One pipeline writes a data folder at a time: it holds the folder's `DataFolderLock` for
/// its life, and a second process (or pipeline) on the same folder fails to start.
public final class IngestPipeline {
    public let configuration: IngestConfiguration
    public let catalog: Catalog
    public let tokenizer: Tokenizer
    /// The data folder's writer lock, which also carries this process's health for `status`.
    public let lock: DataFolderLock
    private let logger: Logger
    /// Test hook: a source whose path contains this aborts the process in the decoder thread,
    /// as a real decoder crash would (`VIDEOAR_TEST_ABORT_ON`; the crash guard's tests use it).
    private let abortOn = ProcessInfo.processInfo.environment["VIDEOAR_TEST_ABORT_ON"].flatMap { $0.isEmpty ? nil : $0 }
    private var writers: [ShardLayout: Open] = [:]
    /// Clips of each source still in open (unsealed) shards.
    private var openClips: [Int64: Int] = [:]
    /// Sources whose clips are all produced, waiting for their last shard to be sealed.
    private var finished: Set<Int64> = []

    private struct Open {
        let writer: ShardWriter
        var clips: [ClipRecord] = []
        /// The content hash of the bytes each clip was cut from, by clip id: the catalog retires
        /// at sealing time a clip whose source changed or vanished while it waited here.
        var contentHashes: [Int64: String] = [:]
    }

    /// Progress of a run, for status lines and summaries.
    public struct Progress: Sendable {
        public var sources = 0, done = 0, rejected = 0, failed = 0, aliases = 0
        public var clips = 0, skippedClips = 0, shards = 0
        /// Retired clips put back for a file that returned with the same bytes (not re-tokenized).
        public var revivedClips = 0
        /// Clips curation left out (dead content).
        public var droppedClips = 0
        public var videoSeconds = 0.0
        public var current: String?
        /// Seconds spent in each stage (decode runs beside tokenize, so they overlap).
        public var hashSeconds = 0.0, decodeSeconds = 0.0, tokenizeSeconds = 0.0, sealSeconds = 0.0
        /// Of `decodeSeconds`: curation's thumbnails, scores, cut detection and hashes.
        public var curationSeconds = 0.0
    }
    public private(set) var progress = Progress()

    /// Takes the data folder's writer lock (throwing `IngestError(.busy)` when another process
    /// has it) and installs the crash recorder.
    public init(configuration: IngestConfiguration, catalog: Catalog, tokenizer: Tokenizer, logger: Logger) throws {
        self.configuration = configuration
        self.catalog = catalog
        self.tokenizer = tokenizer
        self.logger = logger
        let command = CommandLine.arguments.prefix(2).map { URL(fileURLWithPath: $0).lastPathComponent }.joined(
            separator: " ")
        lock = try DataFolderLock(folder: configuration.dataFolder, command: command)
        CrashRecorder.install(folder: configuration.dataFolder)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let config = String(decoding: try encoder.encode(tokenizer.configuration), as: UTF8.self)
        try catalog.register(
            tokenizer: TokenizerRecord(
                id: tokenizer.identity.id, name: tokenizer.identity.name, config: config,
                trained: tokenizer.identity.trained, createdAt: Date().timeIntervalSince1970,
                weightsPath: tokenizer.weightsPath))
    }

    // MARK: - Start-up

    /// What start-up recovery found.
    public struct Recovery: Sendable {
        /// Shard files (and temporaries) the catalog does not list, deleted.
        public var removedFiles = 0
        /// Sources the previous process died on: resumed, or rejected after too many deaths.
        public var sources = Catalog.Recovery()
        /// Copies of deleted files re-queued (a catalog from before copies were re-queued at once).
        public var requeuedCopies = 0
    }

    /// Deletes shard files (and temporaries) the catalog does not list; puts interrupted
    /// sources back to pending, counting the death against the one being worked on (a crash
    /// if the crash log names it) and rejecting it at `retry.max_crashes` / `retry.max_interruptions`.
    @discardableResult
    public func recover() throws -> Recovery {
        var recovery = Recovery()
        recovery.removedFiles = try removeUnlistedShardFiles()
        let folder = configuration.dataFolder
        let crashed = CrashRecorder.crashes(in: folder)
        recovery.sources = try catalog.recoverInterrupted(
            crashed: crashed, active: CrashRecorder.active(in: folder),
            maxCrashes: configuration.retry.maxCrashes,
            maxInterruptions: configuration.retry.maxInterruptions)
        CrashRecorder.clear(in: folder)
        let copies = try catalog.requeueCopiesOfRetired()
        for path in copies {
            logger.info("the file this one copied was deleted: re-queued from this copy", metadata: ["path": "\(path)"])
        }
        recovery.requeuedCopies = copies.count
        for (source, signal) in crashed {
            logger.error(
                "the process crashed on a source last time", metadata: ["source": "\(source)", "signal": "\(signal)"])
        }
        return recovery
    }

    /// Deletes the files under `shards/` the catalog does not list (temporaries included, they
    /// are hidden files) and the folders that leaves empty; returns how many files went.
    private func removeUnlistedShardFiles() throws -> Int {
        let listed = Set(try catalog.shards(includingRetired: true).map(\.path))
        let root = URL(fileURLWithPath: configuration.shardFolder).standardizedFileURL.path
        var removed = 0
        for file in FileTree.walk(root, hidden: true).files
        where !listed.contains("shards/" + file.dropFirst(root.count + 1)) {
            try? FileManager.default.removeItem(atPath: file)
            removed += 1
            logger.info("removed an unlisted shard file", metadata: ["path": "\(file)"])
            // Its folders (shards/BUCKET-fN/TOKENIZER/), if that emptied them: rmdir refuses otherwise.
            var folder = URL(fileURLWithPath: file).deletingLastPathComponent().path
            while folder.count > root.count, rmdir(folder) == 0 {
                folder = URL(fileURLWithPath: folder).deletingLastPathComponent().path
            }
        }
        return removed
    }

    // MARK: - Re-tokenizing and garbage collection

    /// Whether the daemon and `ingest` re-queue by themselves: `tokenizer.retokenize`, and a
    /// trained tokenizer or a layout asked for by name — never the untrained fallback a
    /// missing shipped checkpoint gives, which would re-tokenize a corpus into noise.
    public var retokenizesOnStart: Bool {
        guard configuration.tokenizer.retokenize else { return false }
        if tokenizer.identity.trained || configuration.tokenizer.config != nil { return true }
        logger.warning(
            "not re-queueing sources for an untrained tokenizer nobody asked for (is the shipped checkpoint missing?)",
            metadata: ["tokenizer": "\(tokenizer.identity)"])
        return false
    }

    /// Moves every done source this pipeline's tokenizer has no tokens for back to `pending`
    /// (see `Catalog.requeue(for:)`), only those under `paths` when given; sources whose file
    /// is gone are returned, not queued.
    public func requeueLackingSources(under paths: [String]? = nil) throws -> Catalog.Requeue {
        let scope = paths?.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        let requeue = try catalog.requeue(for: tokenizer.identity.id, under: scope)
        if requeue.queued > 0 {
            logger.notice(
                "re-queued sources for this tokenizer",
                metadata: [
                    "sources": "\(requeue.queued)",
                    "tokenizer": "\(tokenizer.identity)",
                ])
        }
        for (path, copy) in requeue.handedOver.sorted(by: { $0.key < $1.key }) {
            logger.notice(
                "the file is gone: re-tokenizing its copy, which now holds its clips",
                metadata: ["path": "\(path)", "copy": "\(copy)"])
        }
        for path in requeue.missing {
            logger.warning(
                "cannot re-tokenize: the file is gone (its old clips stay)",
                metadata: ["path": "\(path)", "tokenizer": "\(tokenizer.identity)"])
        }
        return requeue
    }

    /// Removes the shards of every tokenizer not in `keeping` (this pipeline's always stays):
    /// the catalog rows in one transaction, then the files. Refuses, listing them, while some
    /// source's only live clips would go (unless `strand`): re-tokenize first.
    public func removeTokenizers(keeping: Set<String>, strand: Bool = false) throws -> Catalog.Removal {
        let keep = keeping.union([tokenizer.identity.id])
        let stranded = try catalog.sourcesStranded(keeping: keep)
        if !stranded.isEmpty && !strand {
            throw IngestError(
                .stranding,
                "\(stranded.count) source(s) have clips only from the tokenizers to be removed (first: "
                    + "\(stranded[0])); re-tokenize them first (`videoar retokenize`), or pass --force",
                cause: stranded.prefix(20).joined(separator: "\n"))
        }
        let removal = try catalog.removeTokenizers(keeping: keep)
        for path in removal.shardPaths {
            try? FileManager.default.removeItem(atPath: configuration.dataFolder + "/" + path)
        }
        _ = try removeUnlistedShardFiles()
        return removal
    }

    /// After a failure in the middle of the work (the disk filled up, the catalog could not be
    /// written): forgets the open shards and hands the sources this process held back to
    /// `pending`, as a restart would — their sealed clips are skipped when they are redone.
    /// Throws while the catalog still cannot be written; call again later.
    public func reset() throws {
        try catalog.releaseClaims()
        writers = [:]
        openClips = [:]
        finished = []
        CrashRecorder.working(on: nil)
    }

    // MARK: - Scanning

    /// Registers every media candidate under `paths` (files or folders, recursively) and
    /// attaches captions found next to them. Hidden files, `*.part`, `*.tmp` and caption
    /// files are never media.
    @discardableResult
    public func scan(_ paths: [String]) throws -> Int {
        var registered = 0
        for path in paths {
            for file in Self.candidates(under: path) {
                // A FIFO or device is registered too, so that `process` rejects it with the reason.
                guard let status = Self.status(of: file) else { continue }
                let registration = try catalog.register(path: file, size: status.size, mtime: status.mtime)
                if case .unchanged = registration {} else { registered += 1 }
                for caption in Captions.find(for: file) {
                    try catalog.addCaption(path: file, text: caption.text, origin: caption.origin)
                }
            }
        }
        return registered
    }

    /// Whether a file name is one the pipeline must leave alone (still being written, hidden, captions).
    public static func isIgnored(_ path: String) -> Bool {
        let name = URL(fileURLWithPath: path).lastPathComponent
        return name.hasPrefix(".") || name.hasSuffix(".part") || name.hasSuffix(".tmp") || name.hasSuffix(".crdownload")
            || Captions.isCaptionFile(path)
    }

    /// The media candidates under `path` (a file or a folder, following links): regular files,
    /// and anything else that is not a folder (FIFOs, devices), which `process` rejects.
    static func candidates(under path: String) -> [String] {
        let listing = FileTree.walk(path)
        return (listing.files + listing.others).filter { !isIgnored($0) }.sorted()
    }

    /// What `path` names, following links: the one `stat` the pipeline and the daemon read.
    struct FileStatus {
        var size: Int64
        var mtime: Double
        /// `S_IFMT` bits of the mode.
        var kind: mode_t
        var isRegular: Bool { kind == S_IFREG }
        var isFolder: Bool { kind == S_IFDIR }
        /// For rejection messages: "a FIFO (named pipe)".
        var kindDescription: String {
            switch kind {
            case S_IFREG: "a regular file"
            case S_IFDIR: "a folder"
            case S_IFIFO: "a FIFO (named pipe)"
            case S_IFSOCK: "a socket"
            case S_IFCHR: "a character device"
            case S_IFBLK: "a block device"
            default: "not a regular file"
            }
        }
    }

    /// nil if `path` does not exist (or is a broken link).
    static func status(of path: String) -> FileStatus? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return FileStatus(
            size: Int64(info.st_size), mtime: Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9,
            kind: info.st_mode & S_IFMT)
    }

    // MARK: - Processing

    /// Processes every claimable source, then seals every open shard.
    /// - Parameter paths: only sources at these paths or under these folders; nil for all.
    public func processAll(under paths: [String]? = nil, onProgress: (Progress) -> Void = { _ in }) throws {
        let scope = paths?.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        while let source = try catalog.claimNext(under: scope) {
            progress.current = source.path
            onProgress(progress)
            try process(source)
            onProgress(progress)
        }
        progress.current = nil
        try sealAll()
        onProgress(progress)
    }

    /// Processes one claimed source. `shouldStop` is asked between clips: when it says yes,
    /// the source is left `processing` (its clips so far are sealed by the caller's
    /// `sealAll`; `recover` resumes it later without redoing them) and false is returned.
    ///
    /// The stages, in order; each returns nil once it has settled the source's state itself
    /// (rejected, failed for a retry, or an alias):
    /// 1. `checkFile` — only regular files (reading a FIFO would block forever);
    /// 2. `hashContent` — SHA-256 of the bytes; the same bytes under another name become an alias;
    /// 3. `openReader` — probe, plan buckets, record the media facts;
    /// 4. `tokenizeClips` — clips → tokens → open shards, decode and tokenize overlapped;
    /// 5. `settle` — done, partial with a note, or rejected for want of clips.
    @discardableResult
    public func process(_ source: SourceRecord, shouldStop: () -> Bool = { false }) throws -> Bool {
        progress.sources += 1
        CrashRecorder.working(on: source.id)
        defer { CrashRecorder.working(on: nil) }
        guard try checkFile(source),
            let hash = try hashContent(source),
            let reader = try openReader(source)
        else { return true }
        switch try tokenizeClips(of: source, hash: hash, from: reader, shouldStop: shouldStop) {
        case .produced(let count, let dropped):
            try settle(source, produced: count, dropped: dropped, crop: reader.crop, outcome: reader.outcome)
            return true
        case .failed:
            return true
        case .stopped:
            return false
        }
    }

    /// How the clips stage ended.
    private enum Tokenized {
        /// Clips kept (tokenized now or sealed before), and the clips curation dropped, by reason.
        case produced(Int, dropped: [IngestConfiguration.CurationPolicy.DropReason: Int])
        /// Asked to stop between clips; the source stays `processing`.
        case stopped
        /// Failed (recorded for a retry).
        case failed
    }

    private func checkFile(_ source: SourceRecord) throws -> Bool {
        guard let status = Self.status(of: source.path), !status.isRegular else { return true }
        try reject(
            source.id!, code: "not-a-file", message: "\(source.path) is \(status.kindDescription), not a regular file")
        return false
    }

    private func hashContent(_ source: SourceRecord) throws -> String? {
        let id = source.id!
        let hash: String
        let start = DispatchTime.now()
        do {
            hash = try Shard.digest(source.path).sha256
            progress.hashSeconds += Self.seconds(since: start)
        } catch {
            try fail(source, code: "io", message: "cannot read the file: \(error)")
            return nil
        }
        // New bytes under a known path: its old clips go (and those still in open shards are
        // retired when sealed). Same bytes (a touched file, or a run resumed after a crash):
        // its sealed clips keep their ids and are skipped.
        if let previous = source.contentHash, previous != hash { try catalog.retireClips(source: id) }
        if let twin = try catalog.setContentHash(hash, of: id) {
            progress.aliases += 1
            progress.done += 1
            logger.info(
                "same bytes as another source: recorded as an alias",
                metadata: ["path": "\(source.path)", "of": "\(twin)"])
            return nil
        }
        return hash
    }

    private func openReader(_ source: SourceRecord) throws -> ClipReader? {
        let reader: ClipReader
        do {
            reader = try ClipReader(
                path: source.path, configuration: configuration.video.clips,
                limits: configuration.video.limits, logger: logger)
        } catch let error as VideoIOError {
            if error.isRetryable {
                try fail(source, code: error.code.rawValue, message: error.message)
            } else {
                try reject(source.id!, code: error.code.rawValue, message: error.message)
            }
            return nil
        }
        var updated = try catalog.source(id: source.id!) ?? source
        let media = reader.media
        updated.container = media.container
        updated.codec = media.codec
        updated.width = media.width
        updated.height = media.height
        updated.duration = media.duration
        updated.fps = media.averageFrameRate
        updated.frameCount = media.frameCount
        updated.hasAudio = media.hasAudio
        try catalog.update(updated)
        return reader
    }

    /// Clips → tokens → open shards, skipping clips sealed by an earlier attempt. A decoder
    /// thread fills a 2-clip queue while this thread tokenizes: the stages overlap and memory
    /// stays at a few clips.
    private func tokenizeClips(
        of source: SourceRecord, hash: String, from reader: ClipReader,
        shouldStop: () -> Bool
    ) throws -> Tokenized {
        let id = source.id!
        let recorded = try catalog.recordedClipIDs(source: id)
        var produced = 0
        var dropped: [IngestConfiguration.CurationPolicy.DropReason: Int] = [:]
        let queue = BoundedQueue<Result<Clip, Error>>(capacity: 2)
        let decodeTime = Accumulator()
        // The reader belongs to the decoder thread until it closes the queue; the caller reads
        // `outcome` only after that (the queue's lock orders the two).
        let handOff = HandOff(reader)
        let abort = abortOn.map { source.path.contains($0) } ?? false
        let decoder = Thread {
            defer { queue.close() }
            if abort { Glibc.abort() }
            do {
                while true {
                    let start = DispatchTime.now()
                    let clip = try handOff.value.next()
                    decodeTime.add(DispatchTime.now(), since: start)
                    guard let clip, queue.push(.success(clip)) else { return }
                }
            } catch {
                queue.push(.failure(error))
            }
        }
        decoder.stackSize = 8 << 20
        decoder.start()
        defer {
            queue.close()
            progress.decodeSeconds += decodeTime.seconds
        }
        do {
            while let next = queue.pop() {
                let clip = try next.get()
                if shouldStop() { return .stopped }
                if let quality = clip.quality,
                    let reason = configuration.curation.dropReason(quality, frames: clip.frameCount)
                {
                    dropped[reason, default: 0] += 1
                    continue
                }
                let clipID = Self.clipID(hash: hash, clip: clip, tokenizer: tokenizer.identity.id)
                produced += 1
                // Sealed by an earlier attempt, or waiting in an open shard for a source that
                // has gone since (the file deleted, moved or put back before the seal): not again.
                if recorded.contains(clipID) || takeOverOpenClip(clipID, for: id) {
                    progress.skippedClips += 1
                    continue
                }
                // The same bytes were here before (a file moved out and back, a deleted file's
                // copy): its retired row holds these very tokens.
                if try catalog.reviveClip(clipID, source: id) {
                    progress.revivedClips += 1
                    continue
                }
                try append(clip, id: clipID, source: id, contentHash: hash)
            }
        } catch let error as IngestError where error.code == .seal {
            try fail(source, code: error.code.rawValue, message: error.message)
            return .failed
        } catch {
            // Tokenizer or shard failures are ours, not the file's: retry later.
            try fail(source, code: "pipeline", message: "\(error)")
            return .failed
        }
        return .produced(produced, dropped: dropped)
    }

    /// Tokenizes one clip into the open shard of its layout, sealing the shard when full.
    private func append(_ clip: Clip, id clipID: Int64, source: Int64, contentHash: String) throws {
        let start = DispatchTime.now()
        let video = try Tensor(clip.pixels, shape: [clip.frameCount, clip.height, clip.width, 3])
        let tokens = try tokenizer.encode(video)
        progress.tokenizeSeconds += Self.seconds(since: start)
        let layout = ShardLayout(
            bucket: clip.bucket.slug, size: clip.bucket.size, width: clip.width, height: clip.height,
            frames: clip.frameCount, fps: clip.fps, tokens: tokens)
        var open = writers[layout] ?? Open(writer: ShardWriter(layout: layout))
        let row = try open.writer.append(id: clipID, tokens: tokens)
        open.contentHashes[clipID] = contentHash
        var record = ClipRecord(
            id: clipID, sourceId: source, bucket: clip.bucket.slug, size: clip.bucket.size,
            width: clip.width, height: clip.height, aspect: clip.bucket.aspect.description,
            frames: clip.frameCount, fps: clip.fps, clipIndex: clip.index,
            startTime: clip.startTime, endTime: clip.endTime, tokens: tokens.tokenCount, row: row)
        if let q = clip.quality {
            record.setCuration(
                motion: q.motion, black: q.blackFraction, detail: q.detail, hash: q.hash, singleShot: q.singleShot)
        }
        open.clips.append(record)
        writers[layout] = open
        openClips[source, default: 0] += 1
        progress.clips += 1
        progress.videoSeconds += clip.duration
        if open.writer.count >= configuration.shards.maxClips || open.writer.byteCount >= configuration.shards.maxBytes
        {
            try seal(layout, current: source)
        }
    }

    /// Done (with a note on partial damage), waiting for its shard, or rejected for want of clips.
    private func settle(
        _ source: SourceRecord, produced: Int, dropped: [IngestConfiguration.CurationPolicy.DropReason: Int],
        crop: CropRegion?, outcome: ClipReader.Outcome?
    ) throws {
        let id = source.id!
        // The queue is closed and drained: the decoder thread set `outcome` before closing it.
        guard let outcome else {
            try fail(source, code: "pipeline", message: "the decoder stopped without an outcome")
            return
        }
        try catalog.record(
            SourceCuration(
                cuts: outcome.cuts, crop: crop?.description, droppedStatic: dropped[.static] ?? 0,
                droppedBlack: dropped[.black] ?? 0,
                droppedBlurry: dropped[.blurry] ?? 0),
            source: id)
        progress.droppedClips += dropped.values.reduce(0, +)
        progress.curationSeconds += outcome.curationSeconds
        if produced == 0, !dropped.isEmpty, outcome.damage == nil {
            // Read in full and judged: complete, with nothing worth training on.
            let reasons = dropped.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.value) \($0.key)" }
            if var updated = try catalog.source(id: id) {
                updated.errorCode = "curated-out"
                updated.error = "every clip was dropped by curation: " + reasons.joined(separator: ", ")
                try catalog.update(updated)
                try catalog.finish(id, .done(tokenizer: tokenizer.identity.id, note: updated.error))
            }
            progress.done += 1
            return
        }
        if produced == 0 {
            try reject(
                id, code: outcome.damage?.code.rawValue ?? "no-clips", message: outcome.noClipReason ?? "no clips")
            return
        }
        var note: String?
        if let damage = outcome.damage, var updated = try catalog.source(id: id) {
            updated.errorCode = "partial-" + damage.code.rawValue
            updated.error = damage.message + " — kept the \(produced) complete clip(s) before it"
            note = updated.error
            try catalog.update(updated)
        } else if outcome.shortClips > 0, var updated = try catalog.source(id: id) {
            // Recorded so `status` shows the decision, and a stage can leave the short clips out by frames.
            updated.errorCode = "short"
            updated.error = outcome.notes.filter { $0.hasPrefix("too short") }.joined(separator: "; ")
            note = updated.error
            try catalog.update(updated)
        }
        if openClips[id, default: 0] == 0 {
            try catalog.finish(id, .done(tokenizer: tokenizer.identity.id, note: note))
            progress.done += 1
        } else {
            finished.insert(id)
        }
    }

    private static func seconds(since start: DispatchTime) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
    }

    /// Whether any clip waits in an open shard.
    public var hasOpenShards: Bool { !writers.isEmpty }

    /// Seals every open shard (end of a run, shutdown).
    public func sealAll() throws {
        for layout in Array(writers.keys) { try seal(layout) }
    }

    /// Makes a clip waiting in an open shard `source`'s, if one with this id is there: the
    /// same bytes were being cut for a source that has since gone (deleted, moved, or put
    /// back), and this one takes them over instead of writing the id twice.
    /// - Returns: whether the clip was there.
    private func takeOverOpenClip(_ clipID: Int64, for source: Int64) -> Bool {
        for (layout, var open) in writers where open.contentHashes[clipID] != nil {
            guard let index = open.clips.firstIndex(where: { $0.id == clipID }) else { continue }
            let owner = open.clips[index].sourceId
            if owner != source {
                open.clips[index].sourceId = source
                writers[layout] = open
                openClips[owner, default: 0] -= 1
                openClips[source, default: 0] += 1
            }
            return true
        }
        return false
    }

    /// Seals the open shard of `layout`; `current` is the source being cut when a full shard
    /// is sealed mid-source (it is failed by its caller if the seal fails).
    private func seal(_ layout: ShardLayout, current: Int64? = nil) throws {
        guard let open = writers.removeValue(forKey: layout), open.writer.count > 0 else { return }
        let start = DispatchTime.now()
        defer { progress.sealSeconds += Self.seconds(since: start) }
        let stamp = String(format: "%.0f", Date().timeIntervalSince1970 * 1000)
        let relative =
            "shards/\(layout.bucket)-f\(layout.frames)/\(layout.tokenizerID)/shard-\(stamp)-\(UInt32.random(in: 0...UInt32.max)).safetensors"
        let path = configuration.dataFolder + "/" + relative
        for clip in open.clips { openClips[clip.sourceId, default: 0] -= 1 }
        let completing = finished.filter { openClips[$0, default: 0] <= 0 }
        do {
            let (bytes, sha) = try open.writer.write(to: path)
            let record = ShardRecord(
                path: relative, bucket: layout.bucket, size: layout.size, aspect: open.clips[0].aspect,
                width: layout.width, height: layout.height, frames: layout.frames, fps: layout.fps,
                tokenizerId: layout.tokenizerID, clipCount: open.writer.count, bytes: bytes, sha256: sha,
                createdAt: Date().timeIntervalSince1970)
            try catalog.seal(
                record, clips: open.clips, contentHashes: open.contentHashes, completing: Array(completing),
                duplicateRadius: configuration.curation.duplicateRadius)
            logger.info(
                "sealed a shard",
                metadata: ["path": "\(relative)", "clips": "\(open.writer.count)", "bytes": "\(bytes)"])
        } catch {
            // The shard is lost (disk full, I/O error). Every open shard is given up with it:
            // a source with clips here may have clips waiting in another, and a retry must not
            // meet them there (duplicates) or finish without these (loss). Its sources are
            // redone later, skipping whatever was sealed before. The service goes on.
            try? FileManager.default.removeItem(atPath: path)
            logger.error("sealing a shard failed; its sources will be retried", metadata: ["error": "\(error)"])
            var affected = finished.union(open.clips.map(\.sourceId))
            for other in writers.values { affected.formUnion(other.clips.map(\.sourceId)) }
            writers = [:]
            openClips = [:]
            finished = []
            // If even that cannot be recorded (the disk is full), the error goes up: the service
            // resets from the catalog once it can write again.
            let reason = "sealing a shard failed: \(error)"
            for source in affected.sorted() where source != current {
                let retryAt = Date().timeIntervalSince1970 + configuration.retry.backoffSeconds
                try catalog.finish(
                    source,
                    .failed(
                        code: "seal", message: reason, retryAt: retryAt, maxAttempts: configuration.retry.maxAttempts))
                progress.failed += 1
            }
            // The source being cut stops here and fails the same way (`tokenizeClips`).
            if current != nil { throw IngestError(.seal, reason, cause: "\(error)") }
            return
        }
        finished.subtract(completing)
        for id in completing { openClips[id] = nil }
        progress.done += completing.count
        progress.shards += 1
    }

    private func reject(_ id: Int64, code: String, message: String) throws {
        try catalog.finish(id, .rejected(code: code, message: message))
        progress.rejected += 1
        logger.notice("rejected", metadata: ["source": "\(id)", "code": "\(code)", "reason": "\(message)"])
    }

    private func fail(_ source: SourceRecord, code: String, message: String) throws {
        let delay = configuration.retry.backoffSeconds * pow(2, Double(max(0, source.attempts - 1)))
        try catalog.finish(
            source.id!,
            .failed(
                code: code, message: message, retryAt: Date().timeIntervalSince1970 + delay,
                maxAttempts: configuration.retry.maxAttempts))
        progress.failed += 1
        logger.warning(
            "failed; will retry", metadata: ["path": "\(source.path)", "code": "\(code)", "reason": "\(message)"])
    }

    /// Moves a non-Sendable value to another thread that becomes its only user.
    final class HandOff<Value>: @unchecked Sendable {
        let value: Value
        init(_ value: Value) { self.value = value }
    }

    /// Seconds added up across threads.
    final class Accumulator: @unchecked Sendable {
        private let lock = NSLock()
        private var total: Double = 0
        func add(_ end: DispatchTime, since start: DispatchTime) {
            lock.lock()
            total += Double(end.uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
            lock.unlock()
        }
        var seconds: Double {
            lock.lock()
            defer { lock.unlock() }
            return total
        }
    }

    // MARK: - Identities

    /// A stable 63-bit id: the same clip of the same bytes with the same tokenizer always gets it.
    static func clipID(hash: String, clip: Clip, tokenizer: String) -> Int64 {
        let key = "\(hash)|\(clip.bucket.slug)|\(clip.frameCount)|\(clip.fps)|\(clip.index)|\(tokenizer)"
        let digest = SHA256.hash(data: Data(key.utf8))
        let value = digest.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) } & 0x7FFF_FFFF_FFFF_FFFF
        return Int64(max(value, 1))
    }
}
