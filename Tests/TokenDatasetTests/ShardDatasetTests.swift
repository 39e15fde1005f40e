import CorpusSupport
import Foundation
import Logging
import Tensor
import Testing
import TokenFormat
@testable import TokenDataset

@Suite("Shard dataset")
struct ShardDatasetTests {
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    /// Six sources, two layouts (17- and 1-frame clips), 31 clips.
    static func corpus() throws -> TokenCorpus {
        try TokenCorpus(sources: [
            .init(clips: 5, caption: "a red ball"), .init(clips: 7), .init(clips: 3, frames: 1, caption: "a still"),
            .init(clips: 6), .init(clips: 4, frames: 1), .init(clips: 6, caption: "waves"),
        ])
    }

    static func dataset(_ corpus: TokenCorpus, heldOut: Double = 0) -> ShardDataset {
        ShardDataset(
            catalog: corpus.catalog, dataFolder: corpus.folder, heldOut: HeldOutSplit(fraction: heldOut), logger: logger
        )
    }

    static let queries = [DataQuery(frames: 17), DataQuery(frames: 1)]

    @Test("1, 2 and 3 ranks together see every clip exactly once per epoch, never mixing layouts in a batch")
    func everyClipOnce() throws {
        let corpus = try Self.corpus()
        let all = corpus.clipIDs.flatMap { $0 }.sorted()
        let dataset = Self.dataset(corpus)
        for world in 1...3 {
            for epoch in 0..<2 {
                let plan = try dataset.plan(Self.queries, globalBatch: 4, seed: 7, stage: 0, epoch: epoch)
                var seen: [Int64] = []
                for index in plan.batches.indices {
                    let global = plan.slice(index).map(\.clipID)
                    var union: [Int64] = []
                    for rank in 0..<world {
                        let slice = plan.slice(index, rank: rank, world: world)
                        #expect(Set(slice.map { "\($0.bucket)|\($0.frames)" }).count <= 1)
                        union += slice.map(\.clipID)
                    }
                    #expect(union.sorted() == global.sorted())
                    seen += union
                }
                #expect(seen.sorted() == all, "world \(world) epoch \(epoch)")
            }
        }
        // Orders differ between epochs, and are the same for the same (seed, epoch).
        let a = try dataset.plan(Self.queries, globalBatch: 4, seed: 7, stage: 0, epoch: 0)
        let b = try dataset.plan(Self.queries, globalBatch: 4, seed: 7, stage: 0, epoch: 1)
        #expect(a == (try dataset.plan(Self.queries, globalBatch: 4, seed: 7, stage: 0, epoch: 0)))
        #expect(a.batches != b.batches)
    }

    @Test("a loader started mid-epoch gives exactly the rest of the uninterrupted epoch's batches")
    func resumeMidEpoch() throws {
        let corpus = try Self.corpus()
        let dataset = Self.dataset(corpus)
        let plan = try dataset.plan(Self.queries, globalBatch: 3, seed: 1, stage: 0, epoch: 0)
        // A plan survives its JSON round trip (the trainer saves it in the run folder).
        let saved = try JSONDecoder().decode(EpochPlan.self, from: JSONEncoder().encode(plan))
        #expect(saved == plan)
        func drain(_ loader: BatchPrefetcher) throws -> [(Int, [Int64], [UInt8])] {
            var out: [(Int, [Int64], [UInt8])] = []
            while let item = try loader.next() {
                out.append((item.index, item.batch!.rows.map(\.clipID), try item.batch!.bits.scalars()))
            }
            return out
        }
        let whole = try drain(BatchPrefetcher(dataset: dataset, plan: plan, start: 0))
        let resumed = try drain(BatchPrefetcher(dataset: dataset, plan: saved, start: 4))
        #expect(whole.count == plan.batches.count)
        #expect(resumed.count == whole.count - 4)
        for (x, y) in zip(whole.dropFirst(4), resumed) {
            #expect(x.0 == y.0 && x.1 == y.1 && x.2 == y.2)
        }
    }

    @Test("no clip of a held-out source is ever in a training plan; the two splits cover every clip")
    func heldOutBySource() throws {
        let corpus = try Self.corpus()
        let dataset = Self.dataset(corpus, heldOut: 0.4)
        let train = try dataset.plan(Self.queries, globalBatch: 4, seed: 3, stage: 0, epoch: 0)
        let held = try dataset.plan(Self.queries, globalBatch: 4, seed: 3, stage: 0, epoch: 0, split: .heldOut)
        let trainSources = Set(train.clips.map(\.sourceID))
        let heldSources = Set(held.clips.map(\.sourceID))
        #expect(!heldSources.isEmpty && !trainSources.isEmpty)
        #expect(trainSources.isDisjoint(with: heldSources))
        #expect(
            (train.clips + held.clips).map(\.clipID).sorted() == corpus.clipIDs.flatMap { $0 }.sorted())
        // The split keys on the source, so it is the same for every stage, epoch and seed.
        let other = try dataset.plan([DataQuery()], globalBatch: 2, seed: 99, stage: 1, epoch: 5)
        #expect(Set(other.clips.map(\.sourceID)).isDisjoint(with: heldSources))
    }

    @Test("a batch holds the shard's bits unpacked and each clip's caption")
    func batchContents() throws {
        let corpus = try Self.corpus()
        let dataset = Self.dataset(corpus)
        let plan = try dataset.plan([DataQuery(frames: 17)], globalBatch: 30, seed: 0, stage: 0, epoch: 0)
        let batch = try #require(try dataset.load(plan.slice(0)))
        #expect(batch.count == 24 && batch.bits.shape == [24, 5, 21, 8])
        for (i, row) in batch.rows.enumerated() {
            let expected = try TokenCorpus.clipBits(seed: UInt64(row.clipID), frames: 17)
            #expect(try batch.bits.select(dim: 0, i).equal(expected).logicalNot().to(.int64).sum().item() == 0)
            let source = corpus.clipIDs.firstIndex { $0.contains(row.clipID) }!
            #expect(batch.captions[i] == [0: "a red ball", 5: "waves"][source])
        }
    }

    @Test("latent_frames trains on the first latent frames of each clip, in batches of their own")
    func latentWindow() throws {
        let corpus = try Self.corpus()
        let dataset = Self.dataset(corpus)
        let queries = [DataQuery(frames: 17, latentFrames: 2), DataQuery(frames: 17), DataQuery(frames: 1, latentFrames: 3)]
        let plan = try dataset.plan(queries, globalBatch: 5, seed: 0, stage: 0, epoch: 0)
        #expect(plan.clips.count == 24 + 24 + 7)
        var windowed = 0
        for i in plan.batches.indices {
            let batch = try #require(try dataset.load(plan.slice(i)))
            #expect(Set(batch.rows.map(\.latentWindow)).count == 1)  // never a mix of windows
            guard batch.rows[0].latentWindow == 2 else {
                #expect(batch.bits.shape[1] == TokenCorpus.latentFrames(batch.layout.frames))  // whole clips; a window past a still's one frame is no cut
                continue
            }
            #expect(batch.layout.latentFrames == 2 && batch.layout.frames == 5 && batch.bits.shape[1...] == [2, 21, 8])
            for (j, row) in batch.rows.enumerated() {
                let expected = try TokenCorpus.clipBits(seed: UInt64(row.clipID), frames: 17).slice(dim: 0, 0..<2)
                #expect(try batch.bits.select(dim: 0, j).equal(expected).logicalNot().to(.int64).sum().item() == 0)
            }
            windowed += batch.count
        }
        #expect(windowed == 24)
        // What the trainer's memory check reads: tokens per clip of each layout, largest first.
        #expect(try dataset.clipTokens(queries).map(\.tokens) == [5 * 21, 2 * 21, 21])
    }

    @Test("a shard that fails its hash is skipped with a logged reason, never a crash")
    func corruptShard() throws {
        let corpus = try Self.corpus()
        let dataset = Self.dataset(corpus)
        let plan = try dataset.plan(Self.queries, globalBatch: 40, seed: 0, stage: 0, epoch: 0)
        let damaged = plan.clips.first { $0.frames == 17 }!.shardPath
        let handle = try #require(FileHandle(forUpdatingAtPath: corpus.folder + "/" + damaged))
        try handle.seek(toOffset: 200)
        try handle.write(contentsOf: Data([0xFF, 0x00, 0xFF]))
        try handle.close()
        var loaded = 0
        for i in plan.batches.indices {
            if let batch = try dataset.load(plan.slice(i)) {
                #expect(batch.rows.allSatisfy { $0.shardPath != damaged })
                loaded += batch.count
            }
        }
        #expect(loaded == 7)  // the 1-frame clips; the damaged shard's 24 are left out
        #expect(dataset.skippedShards[damaged]?.contains("SHA-256") == true)
    }

    @Test("stage weights repeat or subsample a query's clips")
    func weights() throws {
        let corpus = try Self.corpus()
        let dataset = Self.dataset(corpus)
        let doubled = try dataset.plan(
            [DataQuery(frames: 17, weight: 2), DataQuery(frames: 1, weight: 0.5)], globalBatch: 4, seed: 0, stage: 0,
            epoch: 0)
        #expect(doubled.clips.filter { $0.frames == 17 }.count == 48)
        #expect(doubled.clips.filter { $0.frames == 1 }.count == 3)
    }

    @Test("shards sealed while a run is going join at the next epoch; the current epoch's saved plan is unchanged")
    func newShardsNextEpoch() throws {
        var corpus = try Self.corpus()
        let dataset = Self.dataset(corpus)
        let before = try dataset.plan(Self.queries, globalBatch: 4, seed: 0, stage: 0, epoch: 0)
        try corpus.add([.init(clips: 3, caption: "late"), .init(clips: 2, frames: 1)])
        let after = try dataset.plan(Self.queries, globalBatch: 4, seed: 0, stage: 0, epoch: 1)
        #expect(after.clips.count == before.clips.count + 5)
        #expect(Set(after.clips.map(\.clipID)).isSuperset(of: corpus.clipIDs.suffix(2).flatMap { $0 }))
        // The epoch in progress keeps reading its own plan, which still loads.
        for i in before.batches.indices { #expect(try dataset.load(before.slice(i))?.count == before.batches[i].count) }
    }
}
