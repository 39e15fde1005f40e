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
    /// Rows to return (totals always cover every match).
    public var limit: Int

    public init(size: Int? = nil, frames: Int? = nil, minFrames: Int? = nil, minDuration: Double? = nil,
                maxDuration: Double? = nil, aspect: String? = nil, caption: String? = nil, limit: Int = 100) {
        self.size = size
        self.frames = frames
        self.minFrames = minFrames
        self.minDuration = minDuration
        self.maxDuration = maxDuration
        self.aspect = aspect
        self.caption = caption
        self.limit = limit
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
    public static let SourceStateOrder: [SourceRecord.State] = [.pending, .processing, .done, .failed, .rejected, .retired]

    public func query(_ query: ClipQuery) throws -> ClipQueryResult {
        var conditions = ["c.retired = 0"]
        var arguments: [any DatabaseValueConvertible] = []
        if let v = query.size { conditions.append("c.size = ?"); arguments.append(v) }
        if let v = query.frames { conditions.append("c.frames = ?"); arguments.append(v) }
        if let v = query.minFrames { conditions.append("c.frames >= ?"); arguments.append(v) }
        if let v = query.minDuration { conditions.append("c.duration >= ?"); arguments.append(v) }
        if let v = query.maxDuration { conditions.append("c.duration <= ?"); arguments.append(v) }
        if let v = query.aspect { conditions.append("c.aspect = ?"); arguments.append(v) }
        if let v = query.caption {
            conditions.append("c.source_id IN (SELECT source_id FROM captions WHERE id IN (SELECT rowid FROM captions_fts WHERE captions_fts MATCH ?))")
            arguments.append(v)
        }
        let filter = conditions.joined(separator: " AND ")
        do {
            return try pool.read { db in
                let totals = try Row.fetchOne(db, sql: """
                    SELECT COUNT(*) AS n, COALESCE(SUM(c.tokens), 0) AS tokens, COALESCE(SUM(c.duration), 0) AS seconds
                    FROM clips c WHERE \(filter)
                    """, arguments: StatementArguments(arguments))!
                let clips = try ClipMatch.fetchAll(db, sql: """
                    SELECT c.*, s.path AS source_path, h.path AS shard_path
                    FROM clips c JOIN sources s ON s.id = c.source_id JOIN shards h ON h.id = c.shard_id
                    WHERE \(filter) ORDER BY c.id LIMIT ?
                    """, arguments: StatementArguments(arguments + [query.limit]))
                let shards = try String.fetchAll(db, sql: """
                    SELECT DISTINCT h.path FROM clips c JOIN shards h ON h.id = c.shard_id
                    WHERE \(filter) AND h.state = 'sealed' ORDER BY h.path
                    """, arguments: StatementArguments(arguments))
                return ClipQueryResult(clips: clips, totalClips: totals["n"], totalTokens: totals["tokens"],
                                       totalSeconds: totals["seconds"], shardPaths: shards)
            }
        } catch let error as DatabaseError where query.caption != nil {
            throw CatalogError(.query, "the caption search '\(query.caption!)' is not valid FTS5 syntax", cause: "\(error)")
        }
    }

    /// Counts for `videoar status`.
    public struct Status: Sendable {
        public var sources: [SourceRecord.State: Int]
        /// (size, frames) → live clips.
        public var clipsByBucket: [(bucket: String, frames: Int, clips: Int, tokens: Int)]
        public var shards: Int
        public var shardBytes: Int64
        public var recentErrors: [(path: String, state: SourceRecord.State, code: String?, message: String?)]
    }

    public func status(recentErrors limit: Int = 10) throws -> Status {
        try pool.read { db in
            var sources: [SourceRecord.State: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM sources GROUP BY state") {
                if let state = SourceRecord.State(rawValue: row["state"]) { sources[state] = row["n"] }
            }
            let buckets = try Row.fetchAll(db, sql: """
                SELECT bucket, frames, COUNT(*) AS n, SUM(tokens) AS tokens FROM clips WHERE retired = 0
                GROUP BY bucket, frames ORDER BY size, bucket, frames
                """).map { (bucket: $0["bucket"] as String, frames: $0["frames"] as Int, clips: $0["n"] as Int, tokens: $0["tokens"] as Int) }
            let shardRow = try Row.fetchOne(db, sql: "SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS b FROM shards WHERE state = 'sealed'")!
            let errors = try Row.fetchAll(db, sql: """
                SELECT path, state, error_code, error FROM sources WHERE state IN ('rejected', 'failed')
                ORDER BY updated_at DESC LIMIT ?
                """, arguments: [limit]).map {
                (path: $0["path"] as String, state: SourceRecord.State(rawValue: $0["state"]) ?? .rejected,
                 code: $0["error_code"] as String?, message: $0["error"] as String?)
            }
            return Status(sources: sources, clipsByBucket: buckets, shards: shardRow["n"], shardBytes: shardRow["b"],
                          recentErrors: errors)
        }
    }
}
