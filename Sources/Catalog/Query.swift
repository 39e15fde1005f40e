import GRDB

/// Which live clips to find. Every filter is optional; all given filters must hold.
public struct ClipQuery: Sendable, Equatable {
    public var size: Int?
    public var frames: Int?
    public var minFrames: Int?
    public var minDuration: Double?
    public var maxDuration: Double?
    /// "16:9".
    public var aspect: String?
    /// Full-text search over captions (FTS5 syntax: words, "phrases", prefix*).
    public var caption: String?
    /// Only clips tokenized by this tokenizer id.
    public var tokenizer: String?
    /// Rows to return (totals always cover every match).
    public var limit: Int
    /// Curation filters (clips cut before curation have no scores and fail them).
    /// Smallest motion score (grey levels per frame).
    public var minMotion: Double?
    /// Largest share of black or single-colour frames.
    public var maxBlack: Double?
    /// Leave out clips marked near-duplicates of a live clip.
    public var noNearDuplicates: Bool
    /// Only clips known not to span a hard cut.
    public var singleShot: Bool

    /// True when a filter looks at single clips, not only at whole shards.
    var filtersClips: Bool { minMotion != nil || maxBlack != nil || noNearDuplicates || singleShot }

    public init(
        size: Int? = nil, frames: Int? = nil, minFrames: Int? = nil, minDuration: Double? = nil,
        maxDuration: Double? = nil, aspect: String? = nil, caption: String? = nil, tokenizer: String? = nil,
        limit: Int = 100, minMotion: Double? = nil, maxBlack: Double? = nil, noNearDuplicates: Bool = false,
        singleShot: Bool = false
    ) {
        self.size = size
        self.frames = frames
        self.minFrames = minFrames
        self.minDuration = minDuration
        self.maxDuration = maxDuration
        self.aspect = aspect
        self.caption = caption
        self.tokenizer = tokenizer
        self.limit = limit
        self.minMotion = minMotion
        self.maxBlack = maxBlack
        self.noNearDuplicates = noNearDuplicates
        self.singleShot = singleShot
    }
}

/// A matching clip with where to find it.
public struct ClipMatch: Sendable, Equatable, FetchableRecord, Decodable {
    public var clip: ClipRecord
    public var sourcePath: String
    public var shardPath: String

    public init(row: Row) throws {
        clip = try ClipRecord(row: row)
        sourcePath = row["source_path"]
        shardPath = row["shard_path"]
    }
}

/// One clip as a training loader sees it: where its bits are and whose source it is.
public struct TrainingRow: Sendable, Equatable, Codable, FetchableRecord {
    public var clipID: Int64
    public var sourceID: Int64
    /// The source's content hash (its path until hashed): what a held-out split keys on, so a
    /// renamed or re-ingested file stays on its side of the split.
    public var sourceKey: String
    /// Relative to the data folder.
    public var shardPath: String
    public var shardSHA256: String
    public var row: Int
    public var bucket: String
    public var frames: Int
    public var tokenizerID: String
    /// Latent frames a trainer takes from the start of the clip (nil: all): the stage query's
    /// `latent_frames`, carried with the row so an epoch plan never batches two windows together.
    /// Not a catalog column.
    public var latentWindow: Int?

    public init(row r: Row) throws {
        clipID = r["clip_id"]
        sourceID = r["source_id"]
        sourceKey = r["source_key"]
        shardPath = r["shard_path"]
        shardSHA256 = r["shard_sha256"]
        row = r["row"]
        bucket = r["bucket"]
        frames = r["frames"]
        tokenizerID = r["tokenizer_id"]
    }
}

public struct ClipQueryResult: Sendable {
    public var clips: [ClipMatch]
    public var totalClips: Int
    public var totalTokens: Int
    /// Seconds of video the matching clips cover.
    public var totalSeconds: Double
    /// Sealed shards holding at least one match.
    public var shardPaths: [String]
}

extension Catalog {
    /// States in pipeline order, for listings.
    public static let SourceStateOrder: [SourceRecord.State] = [
        .pending, .processing, .done, .failed, .rejected, .retired,
    ]

    /// Matching clips (the first `limit`) and totals over all matches.
    ///
    /// Every clip of a shard shares its size, frames, aspect and duration, so the filters
    /// are shard filters and the totals are sums of the shards' live aggregates (or of
    /// per shard-and-source aggregates when a caption narrows the sources): fast at 10⁶ clips.
    public func query(_ query: ClipQuery) throws -> ClipQueryResult {
        let (shardConditions, arguments) = Self.shardConditions(query)
        let shardFilter = shardConditions.joined(separator: " AND ")
        let captionSources =
            "SELECT source_id FROM captions WHERE id IN (SELECT rowid FROM captions_fts WHERE captions_fts MATCH ?)"
        do {
            return try pool.read { db in
                let totals: Row
                let shards: [String]
                let (curation, curationArguments) = Self.clipConditions(query)
                var clipArguments = arguments + curationArguments
                var clipFilter = ([shardFilter, "c.retired = 0"] + curation).joined(separator: " AND ")
                if query.filtersClips {
                    // Curation scores belong to single clips: totals come from the clips themselves.
                    if let caption = query.caption {
                        clipFilter += " AND c.source_id IN (\(captionSources))"
                        clipArguments.append(caption)
                    }
                    let scan = "FROM shards h CROSS JOIN clips c ON c.shard_id = h.id WHERE \(clipFilter)"
                    totals = try Row.fetchAggregate(
                        db,
                        sql:
                            "SELECT COUNT(*) AS n, COALESCE(SUM(c.tokens), 0) AS tokens, COALESCE(SUM(c.duration), 0) AS seconds \(scan)",
                        arguments: StatementArguments(clipArguments))
                    shards = try String.fetchAll(
                        db, sql: "SELECT DISTINCT h.path \(scan) ORDER BY h.path",
                        arguments: StatementArguments(clipArguments))
                } else if let caption = query.caption {
                    totals = try Row.fetchAggregate(
                        db,
                        sql: """
                            SELECT COALESCE(SUM(ss.clips), 0) AS n, COALESCE(SUM(ss.tokens), 0) AS tokens, COALESCE(SUM(ss.seconds), 0) AS seconds
                            FROM shard_sources ss JOIN shards h ON h.id = ss.shard_id
                            WHERE \(shardFilter) AND ss.source_id IN (\(captionSources))
                            """, arguments: StatementArguments(arguments + [caption]))
                    shards = try String.fetchAll(
                        db,
                        sql: """
                            SELECT DISTINCT h.path FROM shard_sources ss JOIN shards h ON h.id = ss.shard_id
                            WHERE \(shardFilter) AND ss.source_id IN (\(captionSources)) ORDER BY h.path
                            """, arguments: StatementArguments(arguments + [caption]))
                    clipFilter += " AND c.source_id IN (\(captionSources))"
                    clipArguments.append(caption)
                } else {
                    totals = try Row.fetchAggregate(
                        db,
                        sql: """
                            SELECT COALESCE(SUM(live_clips), 0) AS n, COALESCE(SUM(live_tokens), 0) AS tokens, COALESCE(SUM(live_seconds), 0) AS seconds
                            FROM shards h WHERE \(shardFilter)
                            """, arguments: StatementArguments(arguments))
                    shards = try String.fetchAll(
                        db, sql: "SELECT path FROM shards h WHERE \(shardFilter) AND live_clips > 0 ORDER BY path",
                        arguments: StatementArguments(arguments))
                }
                // CROSS JOIN makes SQLite start from the (few) matching shards and read their clips
                // through the (shard_id, row) index, instead of scanning 10⁶ clips for a rare match.
                let clips = try ClipMatch.fetchAll(
                    db,
                    sql: """
                        SELECT c.*, s.path AS source_path, h.path AS shard_path
                        FROM shards h CROSS JOIN clips c ON c.shard_id = h.id CROSS JOIN sources s ON s.id = c.source_id
                        WHERE \(clipFilter) LIMIT ?
                        """, arguments: StatementArguments(clipArguments + [query.limit]))
                return ClipQueryResult(
                    clips: clips, totalClips: totals["n"], totalTokens: totals["tokens"],
                    totalSeconds: totals["seconds"], shardPaths: shards)
            }
        } catch let error as DatabaseError where query.caption != nil {
            throw CatalogError(
                .query, "the caption search '\(query.caption!)' is not valid FTS5 syntax", cause: "\(error)")
        }
    }

    /// The shard-level filters of a query (every clip of a shard shares them) as SQL over `shards h`.
    static func shardConditions(_ query: ClipQuery) -> ([String], [any DatabaseValueConvertible]) {
        var conditions = ["h.state = 'sealed'"]
        var arguments: [any DatabaseValueConvertible] = []
        func add(_ sql: String, _ value: (any DatabaseValueConvertible)?) {
            guard let value else { return }
            conditions.append(sql)
            arguments.append(value)
        }
        add("h.size = ?", query.size)
        add("h.frames = ?", query.frames)
        add("h.frames >= ?", query.minFrames)
        add("h.duration >= ?", query.minDuration)
        add("h.duration <= ?", query.maxDuration)
        add("h.aspect = ?", query.aspect)
        add("h.tokenizer_id = ?", query.tokenizer)
        return (conditions, arguments)
    }

    /// The clip-level (curation) filters of a query as SQL over `clips c`.
    static func clipConditions(_ query: ClipQuery) -> ([String], [any DatabaseValueConvertible]) {
        var conditions: [String] = []
        var arguments: [any DatabaseValueConvertible] = []
        if let minMotion = query.minMotion {
            conditions.append("c.motion >= ?")
            arguments.append(minMotion)
        }
        if let maxBlack = query.maxBlack {
            conditions.append("c.black <= ?")
            arguments.append(maxBlack)
        }
        if query.singleShot { conditions.append("c.single_shot = 1") }
        if query.noNearDuplicates {
            // A duplicate whose original has been retired stands for itself again.
            conditions.append(
                "(c.duplicate_of IS NULL OR NOT EXISTS (SELECT 1 FROM clips o WHERE o.id = c.duplicate_of AND o.retired = 0))"
            )
        }
        return (conditions, arguments)
    }

    /// Every live clip a query matches (no limit), with what a training loader needs to read it,
    /// ordered by clip id so the same catalog always yields the same list.
    public func trainingRows(_ query: ClipQuery) throws -> [TrainingRow] {
        let (conditions, arguments) = Self.shardConditions(query)
        let (curation, curationArguments) = Self.clipConditions(query)
        var filter = (conditions + ["c.retired = 0"] + curation).joined(separator: " AND ")
        var all = arguments + curationArguments
        if let caption = query.caption {
            filter +=
                " AND c.source_id IN (SELECT source_id FROM captions WHERE id IN (SELECT rowid FROM captions_fts WHERE captions_fts MATCH ?))"
            all.append(caption)
        }
        do {
            return try pool.read { db in
                try TrainingRow.fetchAll(
                    db,
                    sql: """
                        SELECT c.id AS clip_id, c.source_id, COALESCE(s.content_hash, s.path) AS source_key,
                               h.path AS shard_path, h.sha256 AS shard_sha256, c.row, h.bucket, h.frames, h.tokenizer_id
                        FROM shards h CROSS JOIN clips c ON c.shard_id = h.id CROSS JOIN sources s ON s.id = c.source_id
                        WHERE \(filter) ORDER BY c.id
                        """, arguments: StatementArguments(all))
            }
        } catch let error as DatabaseError where query.caption != nil {
            throw CatalogError(
                .query, "the caption search '\(query.caption!)' is not valid FTS5 syntax", cause: "\(error)")
        }
    }

    /// The captions of many sources at once, each source's in the order they were added.
    public func captions(sources: [Int64]) throws -> [Int64: [String]] {
        guard !sources.isEmpty else { return [:] }
        return try pool.read { db in
            var result: [Int64: [String]] = [:]
            for chunk in stride(from: 0, to: sources.count, by: 500) {
                let ids = sources[chunk..<min(chunk + 500, sources.count)]
                let marks = Array(repeating: "?", count: ids.count).joined(separator: ",")
                for row in try Row.fetchAll(
                    db, sql: "SELECT source_id, text FROM captions WHERE source_id IN (\(marks)) ORDER BY id",
                    arguments: StatementArguments(Array(ids)))
                {
                    result[row["source_id"], default: []].append(row["text"])
                }
            }
            return result
        }
    }

    /// Counts for `videoar status`.
    public struct Status: Sendable {
        public var sources: [SourceRecord.State: Int]
        /// (size, frames) → live clips.
        public var clipsByBucket: [(bucket: String, frames: Int, clips: Int, tokens: Int)]
        public var shards: Int
        public var shardBytes: Int64
        /// Rejected and failed sources, and done ones with a note (damage after their kept clips), newest first.
        public var recentErrors: [(path: String, state: SourceRecord.State, code: String?, message: String?)]
    }

    /// - Parameter tokenizer: count only this tokenizer's clips (nil: every tokenizer's).
    public func status(recentErrors limit: Int = 10, tokenizer: String? = nil) throws -> Status {
        try pool.read { db in
            var sources: [SourceRecord.State: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM sources GROUP BY state") {
                if let state = SourceRecord.State(rawValue: row["state"]) { sources[state] = row["n"] }
            }
            let buckets = try Row.fetchAll(
                db,
                sql: """
                    SELECT c.bucket, c.frames, COUNT(*) AS n, SUM(c.tokens) AS tokens
                    FROM clips c JOIN shards h ON h.id = c.shard_id
                    WHERE c.retired = 0 AND h.state = 'sealed' AND (?1 IS NULL OR h.tokenizer_id = ?1)
                    GROUP BY c.bucket, c.frames ORDER BY c.size, c.bucket, c.frames
                    """, arguments: [tokenizer]
            ).map {
                (
                    bucket: $0["bucket"] as String, frames: $0["frames"] as Int, clips: $0["n"] as Int,
                    tokens: $0["tokens"] as Int
                )
            }
            let shardRow = try Row.fetchAggregate(
                db,
                sql: """
                    SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS b FROM shards
                    WHERE state = 'sealed' AND (?1 IS NULL OR tokenizer_id = ?1)
                    """, arguments: [tokenizer])
            let errors = try Row.fetchAll(
                db,
                sql: """
                    SELECT path, state, error_code, error FROM sources
                    WHERE state IN ('rejected', 'failed') OR (state = 'done' AND error IS NOT NULL)
                    ORDER BY updated_at DESC LIMIT ?
                    """, arguments: [limit]
            ).map {
                (
                    path: $0["path"] as String, state: SourceRecord.State(rawValue: $0["state"]) ?? .rejected,
                    code: $0["error_code"] as String?, message: $0["error"] as String?
                )
            }
            return Status(
                sources: sources, clipsByBucket: buckets, shards: shardRow["n"], shardBytes: shardRow["b"],
                recentErrors: errors)
        }
    }
}

extension Row {
    /// The one row an aggregate `SELECT` yields. SQLite always yields it, so its absence
    /// means a broken database: a thrown error, not a trap.
    fileprivate static func fetchAggregate(
        _ db: Database, sql: String,
        arguments: StatementArguments = StatementArguments()
    ) throws -> Row {
        guard let row = try fetchOne(db, sql: sql, arguments: arguments) else {
            throw CatalogError(.query, "an aggregate query returned no row", cause: sql)
        }
        return row
    }
}

extension Catalog {
    /// Seconds of video of the done, non-alias sources.
    public func sourcesDuration() throws -> Double {
        try pool.read { db in
            try Double.fetchOne(
                db, sql: "SELECT COALESCE(SUM(duration), 0) FROM sources WHERE state = 'done' AND alias_of IS NULL")
                ?? 0
        }
    }
}
