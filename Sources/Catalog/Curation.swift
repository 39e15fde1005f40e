import Foundation
import GRDB

/// What curation found in one source: its hard cuts and how many clips each threshold dropped.
public struct SourceCuration: Sendable, Equatable {
    /// Source times (seconds) of the first frame after each hard cut.
    public var cuts: [Double]
    /// The content region ("1920×800+0+140") when black bars were cut off.
    public var crop: String?
    public var droppedStatic: Int
    public var droppedBlack: Int
    public var droppedBlurry: Int

    public init(
        cuts: [Double], crop: String? = nil, droppedStatic: Int = 0, droppedBlack: Int = 0, droppedBlurry: Int = 0
    ) {
        self.cuts = cuts
        self.crop = crop
        self.droppedStatic = droppedStatic
        self.droppedBlack = droppedBlack
        self.droppedBlurry = droppedBlurry
    }
}

/// Curation totals for `videoar status`.
public struct CurationStatus: Sendable, Equatable {
    /// Hard cuts found in done sources.
    public var cuts = 0
    /// Clips not kept, by reason (done sources).
    public var droppedStatic = 0, droppedBlack = 0, droppedBlurry = 0
    /// Live clips marked near-duplicates of a live clip, and live clips spanning a cut.
    public var nearDuplicates = 0, multiShot = 0
    /// Live clips with curation scores (clips cut before curation have none).
    public var scored = 0
}

extension Catalog {
    /// Records what curation found in `source` (replacing an earlier attempt's record).
    public func record(_ curation: SourceCuration, source: Int64) throws {
        let cuts = String(decoding: try JSONEncoder().encode(curation.cuts), as: UTF8.self)
        try pool.write { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO source_curation (source_id, cuts, crop, dropped_static, dropped_black, dropped_blurry)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    source, cuts, curation.crop, curation.droppedStatic, curation.droppedBlack, curation.droppedBlurry,
                ])
        }
    }

    /// What curation found in `source`, if it was processed with curation.
    public func curation(source: Int64) throws -> SourceCuration? {
        let row = try pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM source_curation WHERE source_id = ?", arguments: [source])
        }
        guard let row else { return nil }
        let cuts = try JSONDecoder().decode([Double].self, from: Data((row["cuts"] as String).utf8))
        return SourceCuration(
            cuts: cuts, crop: row["crop"], droppedStatic: row["dropped_static"], droppedBlack: row["dropped_black"],
            droppedBlurry: row["dropped_blurry"])
    }

    /// Curation totals over done sources and live clips (of `tokenizer`, when given).
    public func curationStatus(tokenizer: String? = nil) throws -> CurationStatus {
        try pool.read { db in
            var status = CurationStatus()
            let dropped = try Row.fetchOne(
                db,
                sql: """
                    SELECT COALESCE(SUM(json_array_length(cuts)), 0) AS cuts, COALESCE(SUM(dropped_static), 0) AS s,
                           COALESCE(SUM(dropped_black), 0) AS b, COALESCE(SUM(dropped_blurry), 0) AS r
                    FROM source_curation JOIN sources ON sources.id = source_id WHERE sources.state = 'done'
                    """)
            if let dropped {
                (status.cuts, status.droppedStatic, status.droppedBlack, status.droppedBlurry) =
                    (dropped["cuts"], dropped["s"], dropped["b"], dropped["r"])
            }
            let clips = try Row.fetchOne(
                db,
                sql: """
                    SELECT COUNT(c.motion) AS scored, COALESCE(SUM(c.single_shot = 0), 0) AS multi,
                           COALESCE(SUM(c.duplicate_of IS NOT NULL
                               AND EXISTS (SELECT 1 FROM clips o WHERE o.id = c.duplicate_of AND o.retired = 0)), 0) AS dups
                    FROM shards h CROSS JOIN clips c ON c.shard_id = h.id
                    WHERE c.retired = 0 AND h.state = 'sealed' AND (?1 IS NULL OR h.tokenizer_id = ?1)
                    """, arguments: [tokenizer])
            if let clips {
                (status.scored, status.multiShot, status.nearDuplicates) = (
                    clips["scored"], clips["multi"], clips["dups"]
                )
            }
            return status
        }
    }
}
