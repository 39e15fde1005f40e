import Foundation

/// Loads the next batches of a plan on a background thread, in plan order, so a training
/// step never waits on shard reads and bit unpacking (`videoar bench train` measures the wait).
public final class BatchPrefetcher: @unchecked Sendable {
    public struct Item: @unchecked Sendable {
        /// The batch's index in the plan.
        public var index: Int
        /// Nil when every clip of the batch was in a skipped shard.
        public var batch: TokenBatch?
    }

    private let condition = NSCondition()
    private var ready: [Result<Item, any Error>] = []
    private var finished = false
    private var cancelled = false
    private let depth: Int

    /// Starts loading `plan`'s batches from `start` (rank `rank` of `world`), keeping up to `depth` ready.
    public init(dataset: ShardDataset, plan: EpochPlan, start: Int, rank: Int = 0, world: Int = 1, depth: Int = 2) {
        self.depth = max(1, depth)
        let thread = Thread { [self] in
            for index in start..<plan.batches.count {
                condition.lock()
                while ready.count >= self.depth, !cancelled { condition.wait() }
                let stop = cancelled
                condition.unlock()
                if stop { break }
                let result = Result {
                    Item(index: index, batch: try dataset.load(plan.slice(index, rank: rank, world: world)))
                }
                condition.lock()
                ready.append(result)
                condition.broadcast()
                condition.unlock()
                if case .failure = result { break }
            }
            condition.lock()
            finished = true
            condition.broadcast()
            condition.unlock()
        }
        thread.name = "videoar.prefetch"
        thread.start()
    }

    /// The next batch in plan order, waiting for it if needed; nil at the end of the plan.
    public func next() throws -> Item? {
        condition.lock()
        defer { condition.unlock() }
        while ready.isEmpty, !finished { condition.wait() }
        guard !ready.isEmpty else { return nil }
        let result = ready.removeFirst()
        condition.broadcast()
        return try result.get()
    }

    /// Stops the loader thread (it finishes the batch it is reading).
    public func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }

    deinit { cancel() }
}
