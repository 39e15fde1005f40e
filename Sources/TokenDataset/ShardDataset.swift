import Catalog
import Diagnostics
import Foundation
import Logging
import Shards
import Tensor
import TokenFormat

/// Clips of one layout, ready for a training step.
public struct TokenBatch: @unchecked Sendable {
    public var layout: ShardLayout
    /// uint8 0/1 [B, T′, L, d].
    public var bits: Tensor
    public var rows: [TrainingRow]
    /// Each clip's caption (its source's first), nil when the source has none.
    public var captions: [String?]

    public var count: Int { rows.count }

    /// The per-frame scale schedule, coarse to fine.
    public var schedule: ScaleSchedule {
        ScaleSchedule(scales: layout.scales.map { ScaleSchedule.Scale(height: $0[0], width: $0[1]) })
    }

    public var codes: MultiScaleCodes {
        MultiScaleCodes(schedule: schedule, bitsPerToken: layout.bitsPerToken, decay: layout.codeDecay)
    }
}

/// The training feed: catalog queries → epoch plans → batches of unpacked bits with captions.
///
/// Shards are opened lazily and kept while a plan uses them; each one's SHA-256 is checked
/// against the catalog the first time it is read, and a shard that is missing or fails the
/// check is skipped with a logged reason (its clips leave the batch) rather than stopping a run.
public final class ShardDataset: @unchecked Sendable {
    public let dataFolder: String
    public let heldOut: HeldOutSplit
    private let catalog: Catalog
    private let logger: Logger
    private let state = Locked(State())

    private struct State {
        var open: [String: Shard] = [:]
        var order: [String] = []
        /// Shards found missing or damaged, with the reason (each logged once).
        var bad: [String: String] = [:]
        var captions: [Int64: String?] = [:]
    }

    /// Opened shards kept at once (each is its file's tokens in memory).
    public var cacheLimit = 16

    public enum Split: String, Sendable { case train, heldOut = "held-out" }

    public init(catalog: Catalog, dataFolder: String, heldOut: HeldOutSplit = HeldOutSplit(), logger: Logger) {
        self.catalog = catalog
        self.dataFolder = dataFolder
        self.heldOut = heldOut
        self.logger = logger
    }

    /// The rows each query matches on one side of the held-out split, each carrying its
    /// query's latent window.
    public func rows(_ queries: [DataQuery], split: Split) throws -> [[TrainingRow]] {
        try queries.map { query in
            try catalog.trainingRows(query.clipQuery).filter { heldOut.isHeldOut($0.sourceKey) == (split == .heldOut) }
                .map { row in
                    var row = row
                    row.latentWindow = query.latentFrames
                    return row
                }
        }
    }

    /// Each layout the queries feed a trainer (bucket × frames × tokenizer × latent window)
    /// with its tokens per clip, largest first — what a step's memory grows with. Reads one
    /// shard per layout; layouts whose shards are all unreadable are left out.
    public func clipTokens(_ queries: [DataQuery], split: Split = .train) throws -> [(layout: String, tokens: Int)] {
        var seen: Set<String> = []
        var result: [(layout: String, tokens: Int)] = []
        for row in try rows(queries, split: split).joined() {
            let key = "\(row.bucket)|\(row.frames)|\(row.tokenizerID)|\(row.latentWindow ?? 0)"
            guard !seen.contains(key), let shard = shard(row.shardPath, sha256: row.shardSHA256) else { continue }
            seen.insert(key)
            var layout = shard.layout
            if let window = row.latentWindow, window < layout.latentFrames { layout = layout.prefix(latentFrames: window) }
            let name = "\(layout.bucket) × \(layout.frames) frame\(layout.frames == 1 ? "" : "s")"
            result.append((name, layout.latentFrames * layout.tokensPerFrame))
        }
        return result.sorted { $0.tokens > $1.tokens }
    }

    /// The plan of one epoch: the queries' training rows in a (seed, stage, epoch) order.
    public func plan(
        _ queries: [DataQuery], globalBatch: Int, seed: UInt64, stage: Int, epoch: Int, split: Split = .train
    ) throws -> EpochPlan {
        var plan = EpochPlan.make(
            rows: try rows(queries, split: split), weights: queries.map(\.weight), globalBatch: globalBatch, seed: seed,
            stage: stage, epoch: epoch)
        plan.queries = DataQuery.fingerprint(queries)
        return plan
    }

    /// Reads and unpacks `rows` (one layout, one latent window); rows whose shard is missing or
    /// damaged are left out with a logged reason. Nil when none is left.
    public func load(_ rows: [TrainingRow]) throws -> TokenBatch? {
        var byShard: [String: [Int]] = [:]
        for (i, row) in rows.enumerated() { byShard[row.shardPath, default: []].append(i) }
        var pieces: [(indices: [Int], bits: Tensor)] = []
        var layout: ShardLayout? = nil
        for path in byShard.keys.sorted() {
            guard let shard = shard(path, sha256: rows[byShard[path]![0]].shardSHA256) else { continue }
            let indices = byShard[path]!
            if let layout, layout != shard.layout {
                throw DatasetError(
                    .layout, "a batch mixes shard layouts (\(layout.bucket) and \(shard.layout.bucket)); plans never do"
                )
            }
            layout = shard.layout
            let bad = indices.filter { rows[$0].row >= shard.count }
            guard bad.isEmpty else {
                markBad(path, "the catalog lists row \(rows[bad[0]].row), the shard has \(shard.count) rows")
                continue
            }
            pieces.append((indices, try shard.bits(rows: indices.map { rows[$0].row })))
        }
        guard var layout, !pieces.isEmpty else { return nil }
        // Back to the plan's order within the batch.
        let kept = pieces.flatMap(\.indices)
        var bits = try Tensor.cat(pieces.map(\.bits), dim: 0)
        let order = kept.enumerated().sorted { $0.element < $1.element }.map { Int64($0.offset) }
        bits = try bits.indexSelect(dim: 0, Tensor(order, shape: [order.count]))
        let keptRows = kept.sorted().map { rows[$0] }
        if let window = keptRows[0].latentWindow, window < layout.latentFrames {
            bits = try bits.slice(dim: 1, 0..<window).contiguous()
            layout = layout.prefix(latentFrames: window)
        }
        return TokenBatch(layout: layout, bits: bits, rows: keptRows, captions: try captions(keptRows))
    }

    /// Shards skipped so far, with why.
    public var skippedShards: [String: String] { state.withLock { $0.bad } }

    private func captions(_ rows: [TrainingRow]) throws -> [String?] {
        let missing = state.withLock { s in Set(rows.map(\.sourceID).filter { s.captions[$0] == nil }) }
        if !missing.isEmpty {
            let found = try catalog.captions(sources: Array(missing).sorted())
            state.withLock { s in for id in missing { s.captions[id] = .some(found[id]?.first) } }
        }
        return state.withLock { s in rows.map { s.captions[$0.sourceID] ?? nil } }
    }

    private func markBad(_ path: String, _ reason: String) {
        let first = state.withLock { s in
            defer { s.bad[path] = reason }
            return s.bad[path] == nil
        }
        if first { logger.warning("shard skipped", metadata: ["shard": "\(path)", "reason": "\(reason)"]) }
    }

    private func shard(_ path: String, sha256: String) -> Shard? {
        if let cached = state.withLock({ s -> Shard?? in
            s.bad[path] != nil ? .some(nil) : s.open[path].map { .some($0) }
        }) {
            return cached
        }
        let full = dataFolder + "/" + path
        do {
            let digest = try Shard.digest(full)
            guard digest.sha256 == sha256 else {
                markBad(
                    path,
                    "SHA-256 \(digest.sha256.prefix(12))… differs from the catalog's \(sha256.prefix(12))…: the file changed or is damaged; run `videoar verify`"
                )
                return nil
            }
            let shard = try Shard(path: full)
            state.withLock { s in
                s.open[path] = shard
                s.order.append(path)
                while s.order.count > cacheLimit { s.open[s.order.removeFirst()] = nil }
            }
            return shard
        } catch {
            markBad(path, "cannot be read: \(error)")
            return nil
        }
    }
}

extension ShardLayout {
    /// The layout of the first `n` latent frames of these clips: with a causal tokenizer, the
    /// clips of the first 1 + τ·(n − 1) frames (τ = frames per latent frame after the first).
    func prefix(latentFrames n: Int) -> ShardLayout {
        var cut = self
        let tau = latentFrames > 1 ? (frames - 1) / (latentFrames - 1) : 1
        cut.frames = 1 + tau * (n - 1)
        cut.latentFrames = n
        return cut
    }
}

/// A dataset failure: `DatasetErrorCode`, a message, the cause.
public typealias DatasetError = ModuleError<DatasetErrorCode>

public enum DatasetErrorCode: String, Sendable { case layout, empty, plan }

/// A value behind a lock (the dataset is read from the prefetch thread and the trainer).
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
