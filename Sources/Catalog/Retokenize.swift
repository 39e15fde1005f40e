import Foundation
import GRDB

/// Tokenizer coverage: which sources have tokens of which tokenizer, re-queueing the ones a
/// new tokenizer lacks, and removing the shards of tokenizers no longer wanted.
///
/// A source is *complete* for a tokenizer once the transaction that marked it done recorded
/// that tokenizer (`source_tokenizers`). Re-queueing only moves `done` sources back to
/// `pending`: their old shards stay sealed and queryable, and the pipeline redoes them like a
/// first ingest (clip ids include the tokenizer, so a resumed run skips what it sealed).
extension Catalog {
    /// One tokenizer's share of the catalog.
    public struct TokenizerUsage: Sendable, Equatable {
        public var id: String
        public var name: String
        public var trained: Bool
        public var shards: Int
        public var liveClips: Int
        public var bytes: Int64
        /// Sources complete for it.
        public var completeSources: Int
    }

    /// Every tokenizer the catalog knows, with its shards and the sources complete for it.
    public func tokenizerUsage() throws -> [TokenizerUsage] {
        try pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT t.id, t.name, t.trained,
                        (SELECT COUNT(*) FROM shards h WHERE h.tokenizer_id = t.id AND h.state = 'sealed') AS shards,
                        (SELECT COALESCE(SUM(live_clips), 0) FROM shards h WHERE h.tokenizer_id = t.id AND h.state = 'sealed') AS clips,
                        (SELECT COALESCE(SUM(bytes), 0) FROM shards h WHERE h.tokenizer_id = t.id AND h.state = 'sealed') AS bytes,
                        (SELECT COUNT(*) FROM source_tokenizers st JOIN sources s ON s.id = st.source_id
                            WHERE st.tokenizer_id = t.id AND s.state = 'done') AS complete
                    FROM tokenizers t ORDER BY t.created_at, t.id
                    """
            ).map {
                TokenizerUsage(
                    id: $0["id"], name: $0["name"], trained: $0["trained"], shards: $0["shards"],
                    liveClips: $0["clips"], bytes: $0["bytes"], completeSources: $0["complete"])
            }
        }
    }

    /// Sources (not aliases) in `state` that are not complete for `tokenizer`, by path: done
    /// ones still need re-queueing; pending and processing ones are on their way.
    public func sourcesLacking(tokenizer: String, state: SourceRecord.State = .done) throws -> [SourceRecord] {
        try pool.read { db in
            try SourceRecord.fetchAll(
                db,
                sql: """
                    SELECT * FROM sources s WHERE s.state = ? AND s.alias_of IS NULL AND NOT EXISTS
                        (SELECT 1 FROM source_tokenizers st WHERE st.source_id = s.id AND st.tokenizer_id = ?)
                    ORDER BY s.path
                    """, arguments: [state.rawValue, tokenizer])
        }
    }

    /// What `requeue(for:)` did.
    public struct Requeue: Sendable, Equatable {
        /// Sources moved back to `pending` for the tokenizer.
        public var queued: Int
        /// Sources lacking the tokenizer whose file is gone: left as they are (their old clips
        /// stay live), listed so nobody is surprised.
        public var missing: [String]
        /// Sources whose file is gone but a copy of the same bytes is here (by old path): the
        /// copy took the source over and was queued instead.
        public var handedOver: [String: String] = [:]
    }

    /// Moves every done source not yet complete for `tokenizer` back to `pending`, from its
    /// original file, in one transaction. Sources whose file no longer exists are reported
    /// instead. Their sealed clips (of every tokenizer) stay live meanwhile.
    /// - Parameter paths: only sources at these paths or inside these folders (absolute, as
    ///   registered); nil for every source.
    public func requeue(
        for tokenizer: String, under paths: [String]? = nil,
        fileExists: (String) -> Bool = { FileManager.default.fileExists(atPath: $0) }
    ) throws -> Requeue {
        let lacking = try sourcesLacking(tokenizer: tokenizer).filter { source in
            paths.map { $0.contains { source.path == $0 || source.path.hasPrefix($0.hasSuffix("/") ? $0 : $0 + "/") } }
                ?? true
        }
        var present: [Int64] = []
        var missing: [String] = []
        var handedOver: [String: String] = [:]
        for source in lacking {
            if fileExists(source.path) {
                present.append(source.id!)
            } else if let copy = try copies(of: source).first(where: { fileExists($0.path) }),
                try retire(path: source.path, heir: copy.path) == copy.path
            {
                handedOver[source.path] = copy.path
                present.append(copy.id!)
            } else {
                missing.append(source.path)
            }
        }
        let queued = try pool.write { db -> Int in
            var count = 0
            for id in present {
                // Still done and still lacking it (the daemon may have moved on meanwhile).
                try db.execute(
                    sql: """
                        UPDATE sources SET state = 'pending', attempts = 0, next_attempt_at = NULL, updated_at = ?
                        WHERE id = ? AND state = 'done' AND NOT EXISTS
                            (SELECT 1 FROM source_tokenizers st WHERE st.source_id = sources.id AND st.tokenizer_id = ?)
                        """, arguments: [Self.now, id, tokenizer])
                count += db.changesCount
            }
            return count
        }
        return Requeue(queued: queued, missing: missing, handedOver: handedOver)
    }

    /// The done copies (aliases) of `source` that still hold its bytes, first registered first.
    func copies(of source: SourceRecord) throws -> [SourceRecord] {
        try pool.read { db in try Self.copies(of: source.id!, hash: source.contentHash).fetchAll(db) }
    }

    /// What `removeTokenizers(keeping:)` took out of the catalog.
    public struct Removal: Sendable, Equatable {
        /// The tokenizers removed.
        public var tokenizers: [String]
        /// Shard files (relative to the data folder) no longer listed: delete them next.
        public var shardPaths: [String]
        public var clips: Int
        public var bytes: Int64
    }

    /// Sources that have live clips of a tokenizer outside `keeping` but are complete for none
    /// of the kept ones: removing the others' shards would leave them with no complete set of
    /// tokens (a source halfway through re-tokenizing counts: its new clips are not all there).
    public func sourcesStranded(keeping: Set<String>) throws -> [String] {
        let kept = Array(keeping)
        let marks = Array(repeating: "?", count: max(kept.count, 1)).joined(separator: ",")
        return try pool.read { db in
            try String.fetchAll(
                db,
                sql: """
                    SELECT s.path FROM sources s WHERE EXISTS
                        (SELECT 1 FROM clips c JOIN shards h ON h.id = c.shard_id
                         WHERE c.source_id = s.id AND c.retired = 0 AND h.tokenizer_id NOT IN (\(marks)))
                    AND NOT EXISTS (SELECT 1 FROM source_tokenizers st
                        WHERE st.source_id = s.id AND st.tokenizer_id IN (\(marks)))
                    ORDER BY s.path
                    """, arguments: StatementArguments((kept.isEmpty ? [""] : kept) + (kept.isEmpty ? [""] : kept)))
        }
    }

    /// Removes from the catalog, in one transaction, every shard (sealed or retired), clip and
    /// completeness record of the tokenizers not in `keeping`, and those tokenizers. The files
    /// are the caller's to delete afterwards: a crash in between leaves only unlisted files,
    /// which the next writer's start-up removes — never a listed shard without its file.
    public func removeTokenizers(keeping: Set<String>) throws -> Removal {
        try pool.write { db in
            let kept = Array(keeping)
            let marks = Array(repeating: "?", count: max(kept.count, 1)).joined(separator: ",")
            let args = StatementArguments(kept.isEmpty ? [""] : kept)
            let doomed = try String.fetchAll(
                db, sql: "SELECT id FROM tokenizers WHERE id NOT IN (\(marks)) ORDER BY id", arguments: args)
            var removal = Removal(tokenizers: doomed, shardPaths: [], clips: 0, bytes: 0)
            for tokenizer in doomed {
                let shards = try Row.fetchAll(
                    db, sql: "SELECT id, path, bytes FROM shards WHERE tokenizer_id = ? ORDER BY path",
                    arguments: [tokenizer])
                for shard in shards {
                    let id: Int64 = shard["id"]
                    removal.shardPaths.append(shard["path"])
                    removal.bytes += shard["bytes"] as Int64
                    try db.execute(sql: "DELETE FROM shard_sources WHERE shard_id = ?", arguments: [id])
                    try db.execute(sql: "DELETE FROM clips WHERE shard_id = ?", arguments: [id])
                    removal.clips += db.changesCount
                    try db.execute(sql: "DELETE FROM shards WHERE id = ?", arguments: [id])
                }
                try db.execute(sql: "DELETE FROM source_tokenizers WHERE tokenizer_id = ?", arguments: [tokenizer])
                try db.execute(sql: "DELETE FROM tokenizers WHERE id = ?", arguments: [tokenizer])
            }
            return removal
        }
    }
}
