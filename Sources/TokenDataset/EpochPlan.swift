import Catalog
import TrainingRun

/// One epoch of one stage, fixed when the epoch starts: the clips, in global batches.
///
/// The order is a function of (seed, stage, epoch) and the clip list alone — MosaicML
/// Streaming's design: batches never mix layouts (bucket × frames × tokenizer × latent window), a global
/// batch is cut into interleaved rank slices (rank r takes positions r, r + world, …), so N
/// ranks together see every clip exactly once per epoch and the same global batches train
/// the same on any world size. A resumed run reads the saved plan and skips the batches
/// already done, which gives exactly the batches the uninterrupted run saw.
public struct EpochPlan: Sendable, Equatable, Codable {
    public var stage: Int
    public var epoch: Int
    public var globalBatch: Int
    /// Every clip of the epoch (a weight-2 query's clips appear twice).
    public var clips: [TrainingRow]
    /// Global batches as indices into `clips`.
    public var batches: [[Int]]
    /// The stage's queries this plan was made from (`DataQuery.fingerprint`): a resumed run
    /// whose configuration changed them replans instead of training on the old clips. Nil in
    /// plans written before it existed.
    public var queries: String?

    /// Builds the plan from the matching rows of each query (in query order).
    public static func make(
        rows: [[TrainingRow]], weights: [Double], globalBatch: Int, seed: UInt64, stage: Int, epoch: Int
    ) -> EpochPlan {
        var clips: [TrainingRow] = []
        // Each query's share: whole repeats, then a seeded subset for the fraction.
        for (q, (matches, weight)) in zip(rows, weights).enumerated() {
            let whole = Int(weight.rounded(.down))
            for _ in 0..<whole { clips += matches }
            let extra = Int((weight - Double(whole)) * Double(matches.count))
            if extra > 0 {
                var rng = SplitMix64.derived(seed: seed, 1, UInt64(stage), UInt64(epoch), UInt64(q))
                clips += matches.shuffled(using: &rng).prefix(extra)
            }
        }
        // Group by layout; shuffle inside each group; cut into batches; shuffle the batches.
        var groups: [String: [Int]] = [:]
        for (i, clip) in clips.enumerated() {
            let window = clip.latentWindow.map { "|\($0)" } ?? ""
            groups["\(clip.bucket)|\(clip.frames)|\(clip.tokenizerID)\(window)", default: []].append(i)
        }
        var batches: [[Int]] = []
        for key in groups.keys.sorted() {
            var rng = SplitMix64.derived(seed: seed, 2, UInt64(stage), UInt64(epoch), stableHash(key))
            let members = groups[key]!.shuffled(using: &rng)
            for start in stride(from: 0, to: members.count, by: globalBatch) {
                batches.append(Array(members[start..<min(start + globalBatch, members.count)]))
            }
        }
        var rng = SplitMix64.derived(seed: seed, 3, UInt64(stage), UInt64(epoch))
        batches.shuffle(using: &rng)
        return EpochPlan(stage: stage, epoch: epoch, globalBatch: globalBatch, clips: clips, batches: batches)
    }

    /// Rank `rank`'s slice of global batch `index`: positions rank, rank + world, … (possibly
    /// empty for the last, short batch of a layout).
    public func slice(_ index: Int, rank: Int = 0, world: Int = 1) -> [TrainingRow] {
        let batch = batches[index]
        return stride(from: rank, to: batch.count, by: world).map { clips[batch[$0]] }
    }
}

/// FNV-1a of a string: a hash that is the same in every process (Swift's `hashValue` is seeded per run).
func stableHash(_ text: String) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in text.utf8 {
        hash ^= UInt64(byte)
        hash &*= 0x100_0000_01b3
    }
    return hash
}
