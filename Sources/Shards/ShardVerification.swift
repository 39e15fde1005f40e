import Catalog
import Foundation

/// Shards judged against the catalog: the one check `verify`, `inspect`, the trainer's
/// loader and the tests share.
public enum ShardVerification {
    /// One shard that does not match its catalog record.
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        /// Relative to the data folder, as the catalog records it.
        public var shard: String
        public var message: String
        public var description: String { "\(shard): \(message)" }
    }

    /// What `verify(_:dataFolder:)` found.
    public struct Report: Sendable {
        public var shards = 0
        /// Rows in the files that were readable and matched.
        public var rows = 0
        public var problems: [Problem] = []
    }

    /// What differs between the file at `path` and `record` (presence, size, then SHA-256), or
    /// nil when both match. Cheap to call before parsing: a file too damaged to parse still
    /// reports its hash.
    public static func mismatch(of record: ShardRecord, atPath path: String) throws -> String? {
        guard FileManager.default.fileExists(atPath: path) else { return "the file is missing" }
        let file = try Shard.digest(path)
        if file.bytes != record.bytes { return "catalog says \(record.bytes) bytes, file has \(file.bytes)" }
        if file.sha256 != record.sha256 { return "catalog says \(record.sha256), file is \(file.sha256)" }
        return nil
    }

    /// Every sealed shard of `catalog` against its file under `dataFolder`: hash and size,
    /// then rows and clip ids in order.
    public static func verify(_ catalog: Catalog, dataFolder: String) throws -> Report {
        var report = Report()
        for record in try catalog.shards() {
            report.shards += 1
            func problem(_ text: String) { report.problems.append(Problem(shard: record.path, message: text)) }
            let path = dataFolder + "/" + record.path
            if let text = try mismatch(of: record, atPath: path) {
                problem(text)
                continue
            }
            do {
                let file = try Shard(path: path)
                let rows = try catalog.clips(inShard: record.id!)
                if file.count != record.clipCount || rows.count != record.clipCount {
                    problem(
                        "\(file.count) rows in the file, \(rows.count) clips and clip_count \(record.clipCount) in the catalog"
                    )
                } else if rows.map(\.id) != file.clipIDs {
                    problem("the file's clip ids are not the catalog's rows")
                } else {
                    report.rows += file.count
                }
            } catch {
                problem("\(error)")
            }
        }
        return report
    }
}
