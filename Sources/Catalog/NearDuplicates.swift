import GRDB

/// Multi-index hashing over the clips' 64-bit perceptual hashes.
///
/// A hash is stored with its four 16-bit bands, each indexed. Two hashes at most `r` bits
/// apart have, by pigeonhole, a band at most `r / 4` bits apart, so a lookup reads the rows
/// whose band equals the query's band or a few-bit variation of it (1 value for r ≤ 3, 17
/// for r ≤ 7, 137 for r ≤ 11) and checks the full distance of those few: at 10⁶ clips a
/// band value holds ~15 entries, not 10⁶. Each band index also holds the hash, so the distance
/// is checked on index entries alone; only the few clips within the radius are read.
public enum NearDuplicateIndex {
    /// The largest radius a lookup supports (three flipped bits per band would enumerate 697 values).
    public static let maxRadius = 11

    /// The four 16-bit bands of `hash`, low bits first.
    public static func bands(of hash: UInt64) -> [Int] {
        (0..<4).map { Int((hash >> UInt64(16 * $0)) & 0xFFFF) }
    }

    /// Every 16-bit value within `bits` flipped bits of `band`.
    static func variations(of band: Int, within bits: Int) -> [Int] {
        var values = [band]
        if bits >= 1 { for i in 0..<16 { values.append(band ^ (1 << i)) } }
        if bits >= 2 {
            for i in 0..<16 { for j in (i + 1)..<16 { values.append(band ^ (1 << i) ^ (1 << j)) } }
        }
        return values
    }

    /// Bits in which two hashes differ.
    public static func distance(_ a: UInt64, _ b: UInt64) -> Int { (a ^ b).nonzeroBitCount }
}

extension Catalog {
    /// A live clip near `hash` (within `radius` bits) among clips of other sources with the
    /// same shape and tokenizer: the earliest of the nearest, following a match that is itself
    /// a duplicate to its original. Nil when none.
    public func nearDuplicate(
        of hash: UInt64, width: Int, height: Int, frames: Int, fps: Double, tokenizer: String,
        radius: Int, excludingSource source: Int64
    ) throws -> Int64? {
        try pool.read { db in
            try Self.nearDuplicate(
                of: hash, width: width, height: height, frames: frames, fps: fps, tokenizer: tokenizer,
                radius: radius, excludingSource: source, in: db)
        }
    }

    static func nearDuplicate(
        of hash: UInt64, width: Int, height: Int, frames: Int, fps: Double, tokenizer: String,
        radius: Int, excludingSource source: Int64, in db: Database
    ) throws -> Int64? {
        let perBand = min(radius, NearDuplicateIndex.maxRadius) / 4
        // 1. Candidates from the band indexes alone (each covers its band and the hash): a few
        //    hundred index entries at 10⁶ clips, no table rows.
        var selects: [String] = []
        var arguments: [any DatabaseValueConvertible] = []
        for (k, band) in NearDuplicateIndex.bands(of: hash).enumerated() {
            let values = NearDuplicateIndex.variations(of: band, within: perBand)
            selects.append(
                "SELECT id, phash FROM clips INDEXED BY clips_by_hash_band\(k) WHERE hash_band\(k) IN ("
                    + Array(repeating: "?", count: values.count).joined(separator: ",") + ")")
            arguments.append(contentsOf: values)
        }
        var near: [Int64: Int] = [:]
        for row in try Row.fetchAll(
            db, sql: selects.joined(separator: " UNION ALL "), arguments: StatementArguments(arguments))
        {
            let distance = NearDuplicateIndex.distance(UInt64(bitPattern: row["phash"] as Int64), hash)
            if distance <= radius { near[row["id"]] = distance }
        }
        guard !near.isEmpty else { return nil }
        // 2. The few within the radius: live, another source, the same shape and tokenizer.
        let marks = Array(repeating: "?", count: near.count).joined(separator: ",")
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT id, duplicate_of FROM clips
                WHERE id IN (\(marks)) AND retired = 0 AND source_id != ?
                  AND width = ? AND height = ? AND frames = ? AND fps = ?
                  AND shard_id IN (SELECT id FROM shards WHERE tokenizer_id = ?)
                """,
            arguments: StatementArguments(
                near.keys.map { $0 as any DatabaseValueConvertible } + [source, width, height, frames, fps, tokenizer]))
        let best =
            rows
            .map { row in
                (id: row["id"] as Int64, original: row["duplicate_of"] as Int64?, distance: near[row["id"]] ?? 64)
            }
            .min { ($0.distance, $0.id) < ($1.distance, $1.id) }
        return best.map { $0.original ?? $0.id }
    }
}
