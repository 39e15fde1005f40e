import Foundation
import GRDB
import Diagnostics
#if canImport(Glibc)
import Glibc
#endif

/// The SQLite catalog (WAL, through GRDB): sources, captions, clips, shards and tokenizers.
///
/// Every state change is one transaction, so a crash at any moment leaves the catalog
/// either before or after a change, never between. Several processes may open the same
/// catalog (the daemon and the query commands): readers never block the writer.
public final class Catalog: Sendable {
    public let path: String
    let pool: DatabasePool

    /// Opens (creating if needed) the catalog at `path` and applies pending migrations.
    public init(path: String) throws {
        self.path = path
        var configuration = Configuration()
        configuration.busyMode = .timeout(30)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        do {
            // One process at a time opens and migrates (a few milliseconds). Switching a new file
            // to WAL needs an exclusive lock that the busy timeout does not wait for, so `serve`
            // creating the catalog while `status` polls it failed now and then with "database is
            // locked"; and two processes would both see a migration as pending and both run it.
            let lock = open(path + ".migrate-lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            if lock >= 0 { flock(lock, LOCK_EX) }
            defer { if lock >= 0 { close(lock) } }
            pool = try DatabasePool(path: path, configuration: configuration)
            let migrator = try Self.migrator()
            if try !pool.read(migrator.hasCompletedMigrations) {
                try migrator.migrate(pool)
            }
        } catch {
            throw CatalogError(.open, "cannot open the catalog at \(path)", cause: "\(error)")
        }
    }

    /// The migrations in `catalog.sql`: one per "-- migration: NAME" section, in order.
    static func migrations() throws -> [(name: String, sql: String)] {
        guard let url = Bundle.module.url(forResource: "catalog", withExtension: "sql"),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else {
            throw CatalogError(.open, "catalog.sql is missing from the Catalog module's resources")
        }
        // A section starts at a line that is exactly "-- migration: NAME".
        var result: [(name: String, sql: String)] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("-- migration: ") {
                result.append((String(line.dropFirst("-- migration: ".count)).trimmingCharacters(in: .whitespaces), ""))
            } else if !result.isEmpty {
                result[result.count - 1].sql += line + "\n"
            }
        }
        return result
    }

    static func migrator() throws -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for (name, sql) in try migrations() {
            migrator.registerMigration(name) { db in try db.execute(sql: sql) }
        }
        return migrator
    }

    static var now: Double { Date().timeIntervalSince1970 }

    // MARK: - Sources

    /// What `register` found.
    public enum Registration: Equatable, Sendable {
        case new(Int64)
        case unchanged(Int64)
        /// Same path, different size or mtime: back to pending (its clips are retired only if the bytes changed).
        case changed(Int64)
    }

    /// Records a complete file seen in an ingest folder.
    public func register(path: String, size: Int64, mtime: Double) throws -> Registration {
        try pool.write { db in
            let now = Self.now
            if var existing = try SourceRecord.filter(Column("path") == path).fetchOne(db) {
                let id = existing.id!
                if existing.size == size && existing.mtime == mtime && existing.state != .retired {
                    return .unchanged(id)
                }
                // The old clips stay live until the new content hash shows the bytes really
                // changed (a touched file keeps them; see `retireClips(source:)`).
                existing.size = size
                existing.mtime = mtime
                existing.aliasOf = nil
                existing.state = .pending
                existing.errorCode = nil
                existing.error = nil
                existing.attempts = 0
                existing.nextAttemptAt = nil
                existing.updatedAt = now
                try existing.update(db)
                return .changed(id)
            }
            var record = SourceRecord(
                id: nil, path: path, size: size, mtime: mtime, contentHash: nil, aliasOf: nil,
                state: .pending, errorCode: nil, error: nil, attempts: 0, nextAttemptAt: nil,
                container: nil, codec: nil, width: nil, height: nil, duration: nil, fps: nil,
                frameCount: nil, hasAudio: nil, createdAt: now, updatedAt: now)
            try record.insert(db)
            return .new(record.id!)
        }
    }

    /// A file that disappeared: its clips leave the trainable set — unless a copy of the same
    /// bytes is registered under another name (an alias). Then that copy inherits the source
    /// whole, in the same transaction: its clips, captions, curation, completeness and state,
    /// so deleting the first of two copies loses nothing and re-tokenizing reads the copy.
    /// A source in flight (its clips still in an open shard; the pipeline holds its id) is
    /// retired instead and its copies re-queued: processing a copy takes those clips over.
    /// - Parameter heir: the copy to hand over to (one whose file is known to exist); nil for
    ///   the first registered.
    /// - Returns: the path of the copy that took over, if one did.
    @discardableResult
    public func retire(path: String, heir preferred: String? = nil) throws -> String? {
        try pool.write { db in
            guard let source = try SourceRecord.filter(Column("path") == path).fetchOne(db), let id = source.id
            else { return nil }
            var heirPath: String?
            if source.aliasOf == nil, source.state != .processing, source.state != .retired,
                let hash = source.contentHash,
                var heir = try Self.copies(of: id, hash: hash).filter(preferred == nil || Column("path") == preferred)
                    .fetchOne(db)
            {
                let heirID = heir.id!
                // The copy's rows from when it held other bytes (now retired) give way.
                try db.execute(sql: "DELETE FROM source_curation WHERE source_id = ?", arguments: [heirID])
                for table in ["clips", "shard_sources", "source_tokenizers", "source_curation"] {
                    try db.execute(
                        sql: "UPDATE \(table) SET source_id = ? WHERE source_id = ?", arguments: [heirID, id])
                }
                // The copy's own captions win a tie; the rest stay with the retired name.
                try db.execute(
                    sql: "UPDATE OR IGNORE captions SET source_id = ? WHERE source_id = ?", arguments: [heirID, id])
                try db.execute(
                    sql: """
                        UPDATE sources SET alias_of = ?, updated_at = ?
                        WHERE alias_of = ? AND id != ? AND content_hash = ? AND state = 'done'
                        """, arguments: [heirID, Self.now, id, heirID, hash])
                heir.aliasOf = nil
                heir.state = source.state
                heir.errorCode = source.errorCode
                heir.error = source.error
                heir.attempts = source.attempts
                heir.nextAttemptAt = source.nextAttemptAt
                (heir.container, heir.codec, heir.width, heir.height) =
                    (source.container, source.codec, source.width, source.height)
                (heir.duration, heir.fps, heir.frameCount, heir.hasAudio) =
                    (source.duration, source.fps, source.frameCount, source.hasAudio)
                heir.updatedAt = Self.now
                try heir.update(db)
                heirPath = heir.path
            }
            // Whatever is left of it (everything, without an heir) leaves the trainable set,
            // and copies the heir could not take (other bytes by now) are re-queued.
            try Self.retireClips(of: id, in: db)
            try db.execute(
                sql: "UPDATE sources SET state = 'retired', alias_of = NULL, updated_at = ? WHERE id = ?",
                arguments: [Self.now, id])
            return heirPath
        }
    }

    /// Re-queues, from their own files, the copies (aliases) of retired sources: a catalog
    /// written before `retire` handed sources over or re-queued copies (a repair run at
    /// start-up, when nothing waits in an open shard). Each copy's clips then revive the
    /// retired rows (`reviveClip`) instead of colliding with them.
    /// - Returns: the paths re-queued.
    public func requeueCopiesOfRetired() throws -> [String] {
        try pool.write { db in
            let paths = try String.fetchAll(
                db,
                sql: """
                    SELECT a.path FROM sources a JOIN sources p ON p.id = a.alias_of
                    WHERE p.state = 'retired' AND a.state = 'done' ORDER BY a.path
                    """)
            try db.execute(
                sql: Self.requeueCopies + "alias_of IN (SELECT id FROM sources WHERE state = 'retired')",
                arguments: [Self.now])
            return paths
        }
    }

    /// Puts a retired clip back into the trainable set as `source`'s, if the catalog has one
    /// with this id: clip ids hash the content, the clip's place and the tokenizer, so a file
    /// that comes back with the same bytes (moved out and back, or a deleted file's copy) would
    /// produce exactly the tokens its shard row still holds. Re-inserting the id would collide.
    /// - Returns: whether a retired clip was revived (false: none, or it is live already).
    public func reviveClip(_ id: Int64, source: Int64) throws -> Bool {
        // Read first: nearly every clip has no row yet, and that must not cost a write.
        let retired = try pool.read { db in
            try Bool.fetchOne(db, sql: "SELECT retired FROM clips WHERE id = ?", arguments: [id])
        }
        guard retired == true else { return false }
        return try pool.write { db in
            guard var clip = try ClipRecord.fetchOne(db, key: id), clip.retired else { return false }
            clip.retired = false
            clip.sourceId = source
            try clip.update(db)
            try db.execute(
                sql: """
                    UPDATE shards SET live_clips = live_clips + 1, live_tokens = live_tokens + ?,
                        live_seconds = live_seconds + ? WHERE id = ?
                    """, arguments: [clip.tokens, clip.duration, clip.shardId])
            try db.execute(
                sql: """
                    INSERT INTO shard_sources (shard_id, source_id, clips, tokens, seconds) VALUES (?, ?, 1, ?, ?)
                    ON CONFLICT (shard_id, source_id) DO UPDATE SET
                        clips = clips + 1, tokens = tokens + excluded.tokens, seconds = seconds + excluded.seconds
                    """, arguments: [clip.shardId, source, clip.tokens, clip.duration])
            return true
        }
    }

    /// Takes a source's clips out of the trainable set (its content changed).
    public func retireClips(source: Int64) throws {
        try pool.write { db in try Self.retireClips(of: source, in: db) }
    }

    /// Takes a source's clips out of the trainable set and out of the shards' live totals.
    static func retireClips(of source: Int64, in db: Database) throws {
        try db.execute(
            sql: """
                UPDATE shards SET
                    live_clips = live_clips - (SELECT clips FROM shard_sources WHERE shard_id = shards.id AND source_id = ?1),
                    live_tokens = live_tokens - (SELECT tokens FROM shard_sources WHERE shard_id = shards.id AND source_id = ?1),
                    live_seconds = live_seconds - (SELECT seconds FROM shard_sources WHERE shard_id = shards.id AND source_id = ?1)
                WHERE id IN (SELECT shard_id FROM shard_sources WHERE source_id = ?1)
                """, arguments: [source])
        try db.execute(sql: "DELETE FROM shard_sources WHERE source_id = ?", arguments: [source])
        try db.execute(sql: "UPDATE clips SET retired = 1 WHERE source_id = ?", arguments: [source])
        // Its clips are gone for every tokenizer, so it is complete for none.
        try db.execute(sql: "DELETE FROM source_tokenizers WHERE source_id = ?", arguments: [source])
        // Its copies still hold those bytes: re-queued from their own files (the first one
        // processed revives these clips, the others become its aliases).
        try db.execute(sql: requeueCopies + "alias_of = ?", arguments: [Self.now, source])
    }

    /// Re-queues done copies (aliases) from their own files, no longer aliases: append the
    /// condition naming whose copies (`updated_at` is the first argument).
    static let requeueCopies =
        "UPDATE sources SET alias_of = NULL, state = 'pending', error_code = NULL, error = NULL, attempts = 0, "
        + "next_attempt_at = NULL, updated_at = ? WHERE state = 'done' AND "

    /// The done copies (aliases) of source `id` that still hold its bytes `hash`, first registered first.
    static func copies(of id: Int64, hash: String?) -> QueryInterfaceRequest<SourceRecord> {
        SourceRecord.filter(
            Column("alias_of") == id && Column("state") == SourceRecord.State.done.rawValue
                && Column("content_hash") == hash
        ).order(Column("id"))
    }

    /// What start-up recovery did with the sources the previous process died on.
    public struct Recovery: Equatable, Sendable {
        /// Back to `pending`: they are processed again, skipping their sealed clips.
        public var resumed = 0
        /// Rejected: the process died on them too many times.
        public var rejected = 0
        public init(resumed: Int = 0, rejected: Int = 0) {
            self.resumed = resumed
            self.rejected = rejected
        }
    }

    /// After the process died: sources left `processing` go back to `pending`. The death counts
    /// against a source as a crash when `crashed` names it (a fatal signal was recorded while it
    /// was processed), or as an interruption (kill -9, the OOM killer) when it was the `active`
    /// one; the others were only waiting for their shard to be sealed. A source that reached
    /// `maxCrashes` or `maxInterruptions` is rejected with the reason instead, so a file that
    /// kills the process cannot stop ingestion forever.
    @discardableResult
    public func recoverInterrupted(
        crashed: [Int64: Int32] = [:], active: Int64? = nil, maxCrashes: Int = .max,
        maxInterruptions: Int = .max
    ) throws -> Recovery {
        try pool.write { db in
            var recovery = Recovery()
            for var source in try SourceRecord.filter(Column("state") == SourceRecord.State.processing.rawValue)
                .fetchAll(db)
            {
                source.updatedAt = Self.now
                source.state = .pending
                if let signal = crashed[source.id!] {
                    source.crashes += 1
                    if source.crashes >= maxCrashes {
                        source.state = .rejected
                        source.errorCode = "crash"
                        source.error =
                            "the decoder crashed the process on this file (\(source.crashes) times; "
                            + "last: \(Self.signalName(signal)))"
                    }
                } else if source.id == active {
                    source.interruptions += 1
                    if source.interruptions >= maxInterruptions {
                        source.state = .rejected
                        source.errorCode = "killed"
                        source.error =
                            "the process was killed while working on this file \(source.interruptions) times "
                            + "(out of memory? see the kernel log)"
                    }
                }
                try source.update(db)
                if source.state == .rejected { recovery.rejected += 1 } else { recovery.resumed += 1 }
            }
            return recovery
        }
    }

    /// A clean stop: sources this process was working on go back to `pending`, uncounted.
    @discardableResult
    public func releaseClaims() throws -> Int {
        try pool.write { db in
            try db.execute(
                sql: "UPDATE sources SET state = 'pending', updated_at = ? WHERE state = 'processing'",
                arguments: [Self.now])
            return db.changesCount
        }
    }

    static func signalName(_ signal: Int32) -> String {
        [4: "SIGILL", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE", 11: "SIGSEGV"][signal] ?? "signal \(signal)"
    }

    /// Takes the next source to work on (pending, or failed and due), marking it processing.
    /// - Parameter paths: only sources at these paths or inside these folders (absolute, as
    ///   registered), e.g. what `videoar ingest PATH…` was given; nil for any source.
    public func claimNext(under paths: [String]? = nil) throws -> SourceRecord? {
        try pool.write { db in
            let now = Self.now
            var scope = ""
            var arguments: StatementArguments = [now]
            if let paths {
                guard !paths.isEmpty else { return nil }
                scope =
                    " AND (" + paths.map { _ in "path = ? OR substr(path, 1, length(?)) = ?" }.joined(separator: " OR ")
                    + ")"
                for path in paths {
                    let folder = path.hasSuffix("/") ? path : path + "/"
                    arguments += [path, folder, folder]
                }
            }
            guard
                var source = try SourceRecord.fetchOne(
                    db,
                    sql: """
                        SELECT * FROM sources
                        WHERE (state = 'pending' OR (state = 'failed' AND next_attempt_at <= ?))\(scope)
                        ORDER BY state = 'failed', id LIMIT 1
                        """, arguments: arguments)
            else { return nil }
            source.state = .processing
            source.attempts += 1
            source.updatedAt = now
            try source.update(db)
            return source
        }
    }

    public func source(id: Int64) throws -> SourceRecord? {
        try pool.read { db in try SourceRecord.fetchOne(db, key: id) }
    }

    public func source(path: String) throws -> SourceRecord? {
        try pool.read { db in try SourceRecord.filter(Column("path") == path).fetchOne(db) }
    }

    /// Every source in `state`, by path (e.g. the ingested corpus a tokenizer trains on).
    public func sources(in state: SourceRecord.State) throws -> [SourceRecord] {
        try pool.read { db in
            try SourceRecord.filter(Column("state") == state.rawValue).order(Column("path")).fetchAll(db)
        }
    }

    /// Records probe results (or any other field change) of a source.
    public func update(_ source: SourceRecord) throws {
        var source = source
        source.updatedAt = Self.now
        try pool.write { db in try source.update(db) }
    }

    /// Records a source's content hash. If another live source already has the same bytes,
    /// this one becomes its alias (done, no clips of its own) and the other's id is returned.
    public func setContentHash(_ hash: String, of id: Int64) throws -> Int64? {
        try pool.write { db in
            let twin = try Int64.fetchOne(
                db,
                sql: """
                    SELECT id FROM sources
                    WHERE content_hash = ? AND id != ? AND alias_of IS NULL
                        AND state IN ('pending', 'processing', 'done', 'failed')
                    ORDER BY id LIMIT 1
                    """, arguments: [hash, id])
            if let twin {
                try db.execute(
                    sql: """
                        UPDATE sources SET content_hash = ?, alias_of = ?, state = 'done', updated_at = ? WHERE id = ?
                        """, arguments: [hash, twin, Self.now, id])
            } else {
                try db.execute(
                    sql: "UPDATE sources SET content_hash = ?, updated_at = ? WHERE id = ?",
                    arguments: [hash, Self.now, id])
            }
            return twin
        }
    }

    /// How processing a source ended (when its clips were not all sealed yet, see `seal`).
    public enum Outcome: Sendable {
        /// Every clip sealed for `tokenizer` (the source is complete for it); `note` keeps a
        /// remark such as partial damage ("truncated at 3.2 s").
        case done(tokenizer: String, note: String? = nil)
        /// Permanent: never retried.
        case rejected(code: String, message: String)
        /// Retryable: retried after `retryAt` unless `attempts` reached `maxAttempts` (then rejected).
        case failed(code: String, message: String, retryAt: Double, maxAttempts: Int)
    }

    /// Ends the processing of a source this process claimed. A source no longer `processing`
    /// (retired because its file was deleted meanwhile, or re-registered because it changed)
    /// keeps the state it has now.
    public func finish(_ id: Int64, _ outcome: Outcome) throws {
        try pool.write { db in
            let now = Self.now
            switch outcome {
            case .done(let tokenizer, let note):
                try Self.recordComplete(id, tokenizer: tokenizer, in: db)
                if note == nil {
                    try db.execute(
                        sql:
                            "UPDATE sources SET state = 'done', error_code = NULL, error = NULL, updated_at = ? WHERE id = ? AND state = 'processing'",
                        arguments: [now, id])
                } else {
                    try db.execute(
                        sql: "UPDATE sources SET state = 'done', updated_at = ? WHERE id = ? AND state = 'processing'",
                        arguments: [now, id])
                }
            case .rejected(let code, let message):
                try db.execute(
                    sql:
                        "UPDATE sources SET state = 'rejected', error_code = ?, error = ?, updated_at = ? WHERE id = ? AND state = 'processing'",
                    arguments: [code, message, now, id])
            case .failed(let code, let message, let retryAt, let maxAttempts):
                try db.execute(
                    sql: """
                        UPDATE sources SET state = CASE WHEN attempts >= ? THEN 'rejected' ELSE 'failed' END,
                            error_code = ?, error = CASE WHEN attempts >= ? THEN ? || ' (gave up after ' || attempts || ' attempts)' ELSE ? END,
                            next_attempt_at = ?, updated_at = ?
                        WHERE id = ? AND state = 'processing'
                        """, arguments: [maxAttempts, code, maxAttempts, message, message, retryAt, now, id])
            }
        }
    }

    // MARK: - Tokenizers, shards and clips

    /// Records a tokenizer; a known id keeps its row but learns a (new) weights path.
    public func register(tokenizer: TokenizerRecord) throws {
        try pool.write { db in
            try tokenizer.insert(db, onConflict: .ignore)
            if let path = tokenizer.weightsPath {
                try db.execute(
                    sql: "UPDATE tokenizers SET weights_path = ? WHERE id = ?", arguments: [path, tokenizer.id])
            }
        }
    }

    /// Records a sealed shard and its clips, and marks `completing` sources done (complete for
    /// the shard's tokenizer) — one transaction, after the shard file is durably in place.
    ///
    /// Retirement is decided here too, however late the seal comes: a clip whose source has been
    /// retired (deleted) or whose bytes are no longer the source's (`contentHashes[clip.id]`
    /// differs: the file was replaced or grew while the clip waited in an open shard) is stored
    /// retired, outside every live total.
    ///
    /// With `duplicateRadius`, a clip whose perceptual hash is that close to an earlier live clip
    /// of another source (same shape and tokenizer, this shard included) is marked its duplicate.
    @discardableResult
    public func seal(
        _ shard: ShardRecord, clips: [ClipRecord], contentHashes: [Int64: String] = [:],
        completing: [Int64] = [], duplicateRadius: Int? = nil
    ) throws -> ShardRecord {
        try pool.write { db in
            var sources: [Int64: (retired: Bool, hash: String?)] = [:]
            func isStale(_ clip: ClipRecord) throws -> Bool {
                if sources[clip.sourceId] == nil {
                    let row = try Row.fetchOne(
                        db, sql: "SELECT state, content_hash FROM sources WHERE id = ?", arguments: [clip.sourceId])
                    sources[clip.sourceId] = (row?["state"] == "retired", row?["content_hash"])
                }
                let source = sources[clip.sourceId]!
                guard let hash = contentHashes[clip.id] else { return source.retired }
                return source.retired || source.hash != hash
            }
            var live: [ClipRecord] = []
            var stale: [ClipRecord] = []
            for clip in clips { if try isStale(clip) { stale.append(clip) } else { live.append(clip) } }
            var shard = shard
            shard.liveClips = live.count
            shard.liveTokens = live.reduce(0) { $0 + $1.tokens }
            shard.liveSeconds = live.reduce(0) { $0 + $1.duration }
            try shard.insert(db)
            var perSource: [Int64: (clips: Int, tokens: Int, seconds: Double)] = [:]
            for var clip in live {
                clip.shardId = shard.id!
                if let radius = duplicateRadius, let hash = clip.phash {
                    clip.duplicateOf = try Self.nearDuplicate(
                        of: UInt64(bitPattern: hash), width: clip.width, height: clip.height, frames: clip.frames,
                        fps: clip.fps, tokenizer: shard.tokenizerId, radius: radius, excludingSource: clip.sourceId,
                        in: db)
                }
                try clip.insert(db)
                let t = perSource[clip.sourceId] ?? (0, 0, 0)
                perSource[clip.sourceId] = (t.clips + 1, t.tokens + clip.tokens, t.seconds + clip.duration)
            }
            for var clip in stale {
                clip.shardId = shard.id!
                clip.retired = true
                try clip.insert(db)
            }
            for (source, t) in perSource {
                try db.execute(
                    sql:
                        "INSERT INTO shard_sources (shard_id, source_id, clips, tokens, seconds) VALUES (?, ?, ?, ?, ?)",
                    arguments: [shard.id!, source, t.clips, t.tokens, t.seconds])
            }
            for id in completing {
                try Self.recordComplete(id, tokenizer: shard.tokenizerId, in: db)
                try db.execute(
                    sql: "UPDATE sources SET state = 'done', updated_at = ? WHERE id = ? AND state = 'processing'",
                    arguments: [Self.now, id])
            }
            return shard
        }
    }

    /// Notes that a source still being processed is complete for `tokenizer` (the same
    /// transaction then marks it done).
    static func recordComplete(_ source: Int64, tokenizer: String, in db: Database) throws {
        try db.execute(
            sql: """
                INSERT OR IGNORE INTO source_tokenizers (source_id, tokenizer_id)
                SELECT id, ? FROM sources WHERE id = ? AND state = 'processing'
                """, arguments: [tokenizer, source])
    }

    /// The ids of clips of `source` already in sealed shards (for resuming without duplicates).
    public func recordedClipIDs(source: Int64) throws -> Set<Int64> {
        try pool.read { db in
            Set(
                try Int64.fetchAll(
                    db, sql: "SELECT id FROM clips WHERE source_id = ? AND retired = 0", arguments: [source]))
        }
    }

    public func shards(includingRetired: Bool = false) throws -> [ShardRecord] {
        try pool.read { db in
            try ShardRecord.fetchAll(
                db,
                sql: includingRetired
                    ? "SELECT * FROM shards ORDER BY id"
                    : "SELECT * FROM shards WHERE state = 'sealed' ORDER BY id")
        }
    }

    public func shard(path: String) throws -> ShardRecord? {
        try pool.read { db in try ShardRecord.filter(Column("path") == path).fetchOne(db) }
    }

    /// The clips stored in a shard, by row.
    public func clips(inShard id: Int64) throws -> [ClipRecord] {
        try pool.read { db in
            try ClipRecord.fetchAll(db, sql: "SELECT * FROM clips WHERE shard_id = ? ORDER BY row", arguments: [id])
        }
    }

    public func tokenizer(id: String) throws -> TokenizerRecord? {
        try pool.read { db in try TokenizerRecord.fetchOne(db, key: id) }
    }

    // MARK: - Captions

    /// Attaches a caption to the source at `path`; false when no such source is registered yet.
    @discardableResult
    public func addCaption(path: String, text: String, origin: String) throws -> Bool {
        try pool.write { db in
            guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM sources WHERE path = ?", arguments: [path])
            else { return false }
            try db.execute(
                sql: "INSERT OR IGNORE INTO captions (source_id, text, origin) VALUES (?, ?, ?)",
                arguments: [id, text, origin])
            return true
        }
    }

    public func captions(source: Int64) throws -> [String] {
        try pool.read { db in
            try String.fetchAll(
                db, sql: "SELECT text FROM captions WHERE source_id = ? ORDER BY id", arguments: [source])
        }
    }
}

/// A catalog failure: `CatalogErrorCode`, a message, SQLite's words as the cause.
public typealias CatalogError = ModuleError<CatalogErrorCode>

public enum CatalogErrorCode: String, Sendable { case open, query, integrity }
