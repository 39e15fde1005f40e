import Foundation
import Synchronization
import Testing
@testable import Catalog

@Suite("Catalog")
struct CatalogTests {
    /// A path in the temporary folder where no catalog exists yet.
    static func freshPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("catalog-\(UUID().uuidString).sqlite").path
    }

    static func fresh() throws -> Catalog { try Catalog(path: freshPath()) }

    static let tokenizer = TokenizerRecord(id: "abcd", name: "t", config: "{}", trained: false, createdAt: 0)

    /// Seals one shard holding `count` clips of `source` in the given bucket.
    @discardableResult
    static func seal(
        _ catalog: Catalog, source: Int64, size: Int = 128, frames: Int = 17, aspect: String = "1:1",
        count: Int, firstID: Int64, path: String, duration: Double = 2.125, tokenizer id: String = "abcd",
        completes: Bool = true
    ) throws -> ShardRecord {
        var tokenizer = Self.tokenizer
        tokenizer.id = id
        try catalog.register(tokenizer: tokenizer)
        let shard = ShardRecord(
            path: path, bucket: "\(size)-x", size: size, aspect: aspect, width: size, height: size, frames: frames,
            fps: 8,
            tokenizerId: id, clipCount: count, bytes: 100, sha256: "00", createdAt: 0)
        let clips = (0..<count).map { i in
            ClipRecord(
                id: firstID + Int64(i), sourceId: source, bucket: "\(size)-x", size: size, width: size, height: size,
                aspect: aspect, frames: frames, fps: 8, clipIndex: i, startTime: Double(i) * duration,
                endTime: Double(i + 1) * duration, tokens: 605, row: i)
        }
        return try catalog.seal(shard, clips: clips, completing: completes ? [source] : [])
    }

    @Test(
        "completeness per tokenizer: re-queue what lacks it; a half-redone source is stranded; changed bytes complete nothing"
    )
    func tokenizerCompleteness() throws {
        let catalog = try Self.fresh()
        guard case .new(let id) = try catalog.register(path: "/in/a.mp4", size: 10, mtime: 1) else {
            Issue.record("not new")
            return
        }
        _ = try catalog.claimNext()
        try Self.seal(catalog, source: id, count: 2, firstID: 1, path: "old.safetensors")
        #expect(try catalog.sourcesLacking(tokenizer: "abcd").isEmpty)
        #expect(try catalog.sourcesLacking(tokenizer: "new").map(\.id) == [id])
        #expect(try catalog.requeue(for: "new", fileExists: { _ in false }) == .init(queued: 0, missing: ["/in/a.mp4"]))
        #expect(try catalog.requeue(for: "new", fileExists: { _ in true }) == .init(queued: 1, missing: []))
        #expect(try catalog.requeue(for: "new", fileExists: { _ in true }).queued == 0, "pending already")

        // Half redone for the new tokenizer: its only complete tokens are the old ones.
        _ = try catalog.claimNext()
        try Self.seal(
            catalog, source: id, count: 1, firstID: 10, path: "new.safetensors", tokenizer: "new", completes: false)
        #expect(try catalog.sourcesStranded(keeping: ["new"]) == ["/in/a.mp4"])
        #expect(try catalog.sourcesStranded(keeping: ["abcd"]).isEmpty)
        #expect(try catalog.tokenizerUsage().map(\.completeSources) == [0, 0], "not done: complete for nothing yet")

        // New bytes retire every clip: complete for no tokenizer, so none skips it later.
        try catalog.finish(id, .done(tokenizer: "new"))
        #expect(try catalog.sourcesLacking(tokenizer: "new").isEmpty)
        try catalog.retireClips(source: id)
        #expect(try catalog.sourcesLacking(tokenizer: "new").map(\.id) == [id])
        #expect(try catalog.sourcesLacking(tokenizer: "abcd").map(\.id) == [id])

        let removal = try catalog.removeTokenizers(keeping: ["new"])
        #expect(removal.tokenizers == ["abcd"] && removal.shardPaths == ["old.safetensors"] && removal.clips == 2)
        #expect(try catalog.shards(includingRetired: true).map(\.path) == ["new.safetensors"])
        #expect(try catalog.tokenizerUsage().map(\.id) == ["new"])
    }

    @Test("the migrations applied are exactly Schemas/catalog.sql")
    func schemaFile() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("Schemas/catalog.sql"), encoding: .utf8)
        let migrations = try Catalog.migrations()
        #expect(migrations.map(\.name) == ["v1", "v2", "v3", "v4", "v5"])
        #expect(text.contains(migrations[0].sql.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(migrations[0].sql.contains("CREATE TABLE clips"))
        // Reopening applies nothing twice.
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("reopen-\(UUID().uuidString).sqlite")
            .path
        _ = try Catalog(path: path)
        _ = try Catalog(path: path)
    }

    @Test("registering: new, unchanged, changed (back to pending; clips retired once the bytes are known to differ)")
    func registration() throws {
        let catalog = try Self.fresh()
        guard case .new(let id) = try catalog.register(path: "/in/a.mp4", size: 10, mtime: 1) else {
            Issue.record("not new")
            return
        }
        #expect(try catalog.register(path: "/in/a.mp4", size: 10, mtime: 1) == .unchanged(id))
        _ = try catalog.claimNext()
        try Self.seal(catalog, source: id, count: 3, firstID: 1, path: "s1.safetensors")
        #expect(try catalog.source(id: id)?.state == .done)
        #expect(try catalog.query(ClipQuery()).totalClips == 3)
        #expect(try catalog.register(path: "/in/a.mp4", size: 11, mtime: 2) == .changed(id))
        #expect(try catalog.source(id: id)?.state == .pending)
        #expect(try catalog.query(ClipQuery()).totalClips == 3)  // maybe only touched: kept for now
        try catalog.retireClips(source: id)  // the pipeline saw new bytes
        #expect(try catalog.query(ClipQuery()).totalClips == 0)
    }

    @Test("a tokenizer's weights path is recorded, and learns a new path when the same weights move")
    func tokenizerWeights() throws {
        let catalog = try Self.fresh()
        var record = TokenizerRecord(
            id: "t1", name: "cpu-small", config: "{}", trained: true, createdAt: 0, weightsPath: "/a/tok.safetensors")
        try catalog.register(tokenizer: record)
        #expect(try catalog.tokenizer(id: "t1")?.weightsPath == "/a/tok.safetensors")
        record.weightsPath = "/b/tok.safetensors"
        try catalog.register(tokenizer: record)
        #expect(try catalog.tokenizer(id: "t1")?.weightsPath == "/b/tok.safetensors")
        record.weightsPath = nil  // the seeded initialisation of the same id never erases a known path
        try catalog.register(tokenizer: record)
        #expect(try catalog.tokenizer(id: "t1")?.weightsPath == "/b/tok.safetensors")
    }

    @Test("claiming takes pending sources in order; an interruption puts processing ones back")
    func claimAndRecover() throws {
        let catalog = try Self.fresh()
        for name in ["a", "b", "c"] { _ = try catalog.register(path: "/in/\(name).mp4", size: 1, mtime: 1) }
        let first = try #require(try catalog.claimNext())
        #expect(first.path == "/in/a.mp4" && first.state == .processing && first.attempts == 1)
        _ = try catalog.claimNext()
        #expect(try catalog.recoverInterrupted() == Catalog.Recovery(resumed: 2))
        #expect(try catalog.claimNext()?.path == "/in/a.mp4")
    }

    @Test(
        "a source the process keeps dying on is rejected after the limit: crashes and kills counted apart, bystanders not at all"
    )
    func boundedRecovery() throws {
        let catalog = try Self.fresh()
        for name in ["poison", "huge", "fine"] { _ = try catalog.register(path: "/in/\(name).mp4", size: 1, mtime: 1) }
        func ids() throws -> (Int64, Int64) {
            (
                try #require(try catalog.source(path: "/in/poison.mp4")?.id),
                try #require(try catalog.source(path: "/in/huge.mp4")?.id)
            )
        }
        let (poison, huge) = try ids()
        for round in 1...3 {
            // The process works on the first two, then dies (of SIGABRT on one, of SIGKILL on the other).
            while try catalog.claimNext(under: ["/in/poison.mp4", "/in/huge.mp4"]) != nil {}
            let recovery = try catalog.recoverInterrupted(
                crashed: [poison: SIGABRT], active: huge, maxCrashes: 3, maxInterruptions: 3)
            #expect(
                recovery == (round < 3 ? Catalog.Recovery(resumed: 2) : Catalog.Recovery(rejected: 2)), "round \(round)"
            )
        }
        let p = try #require(try catalog.source(id: poison)), h = try #require(try catalog.source(id: huge))
        #expect(p.state == .rejected && p.errorCode == "crash" && p.crashes == 3)
        #expect(p.error == "the decoder crashed the process on this file (3 times; last: SIGABRT)")
        #expect(h.state == .rejected && h.errorCode == "killed" && h.error?.contains("3 times") == true)
        // A source that only waited for its shard when the process died is not counted.
        let fine = try #require(try catalog.claimNext())
        #expect(
            try catalog.recoverInterrupted(crashed: [:], active: huge, maxCrashes: 1, maxInterruptions: 1)
                == Catalog.Recovery(resumed: 1))
        // A clean stop releases what it held without counting it either.
        _ = try catalog.claimNext()
        #expect(try catalog.releaseClaims() == 1)
        #expect(try catalog.source(id: fine.id!)?.state == .pending)
        #expect(try catalog.source(id: fine.id!)?.interruptions == 0)
    }

    @Test("claiming can be limited to some paths and folders")
    func claimUnder() throws {
        let catalog = try Self.fresh()
        for path in ["/in/a.mp4", "/in/sub/b.mp4", "/in/sub2/c.mp4", "/other/d.mp4"] {
            _ = try catalog.register(path: path, size: 1, mtime: 1)
        }
        var claimed: [String] = []
        while let source = try catalog.claimNext(under: ["/in/sub", "/other/d.mp4"]) { claimed.append(source.path) }
        #expect(claimed == ["/in/sub/b.mp4", "/other/d.mp4"])
        #expect(try catalog.claimNext(under: []) == nil)
        #expect(try catalog.claimNext()?.path == "/in/a.mp4")
    }

    @Test("the same bytes under a second name become an alias")
    func aliases() throws {
        let catalog = try Self.fresh()
        _ = try catalog.register(path: "/in/a.mp4", size: 1, mtime: 1)
        _ = try catalog.register(path: "/in/copy.mp4", size: 1, mtime: 2)
        let a = try #require(try catalog.claimNext()), b = try #require(try catalog.claimNext())
        #expect(try catalog.setContentHash("h1", of: a.id!) == nil)
        #expect(try catalog.setContentHash("h1", of: b.id!) == a.id)
        let alias = try #require(try catalog.source(id: b.id!))
        #expect(alias.state == .done && alias.aliasOf == a.id)
    }

    @Test("re-tokenizing a source whose file is gone queues a copy of its bytes instead, which takes its clips over")
    func requeueFromCopy() throws {
        let catalog = try Self.fresh()
        _ = try catalog.register(path: "/in/a.mp4", size: 1, mtime: 1)
        _ = try catalog.register(path: "/in/b.mp4", size: 1, mtime: 1)
        _ = try catalog.register(path: "/in/c.mp4", size: 1, mtime: 1)
        let a = try #require(try catalog.claimNext()), b = try #require(try catalog.claimNext())
        let c = try #require(try catalog.claimNext())
        #expect(try catalog.setContentHash("h", of: a.id!) == nil)
        try Self.seal(catalog, source: a.id!, count: 3, firstID: 1, path: "a.safetensors")
        #expect(try catalog.setContentHash("h", of: b.id!) == a.id)
        #expect(try catalog.setContentHash("h", of: c.id!) == a.id)
        // a.mp4 and b.mp4 are gone (deleted while nothing watched); c.mp4 is here.
        let requeue = try catalog.requeue(for: "new", fileExists: { $0 == "/in/c.mp4" })
        #expect(requeue == .init(queued: 1, missing: [], handedOver: ["/in/a.mp4": "/in/c.mp4"]))
        let heir = try #require(try catalog.source(id: c.id!))
        #expect(heir.state == .pending && heir.aliasOf == nil)
        #expect(try catalog.source(id: a.id!)?.state == .retired)
        #expect(try catalog.source(id: b.id!)?.aliasOf == c.id, "the other copy follows the heir")
        let live = try catalog.query(ClipQuery(limit: 10))
        #expect(live.totalClips == 3 && live.clips.allSatisfy { $0.sourcePath == "/in/c.mp4" })
        #expect(try catalog.sourcesLacking(tokenizer: "abcd", state: .pending).map(\.path) == [])
        // With no copy on disk it is reported, and left as it is.
        _ = try catalog.register(path: "/in/d.mp4", size: 2, mtime: 1)
        let d = try #require(try catalog.claimNext(under: ["/in/d.mp4"]))
        try Self.seal(catalog, source: d.id!, count: 1, firstID: 10, path: "d.safetensors")
        let again = try catalog.requeue(for: "new", under: ["/in/d.mp4"], fileExists: { _ in false })
        #expect(again == .init(queued: 0, missing: ["/in/d.mp4"]))
        #expect(try catalog.source(id: d.id!)?.state == .done)
    }

    @Test("failures retry with backoff until the attempt cap, then reject with the reason")
    func retries() throws {
        let catalog = try Self.fresh()
        _ = try catalog.register(path: "/in/a.mp4", size: 1, mtime: 1)
        for attempt in 1...3 {
            let source = try #require(try catalog.claimNext(), "attempt \(attempt)")
            try catalog.finish(source.id!, .failed(code: "io", message: "disk went away", retryAt: 0, maxAttempts: 3))
        }
        let source = try #require(try catalog.source(path: "/in/a.mp4"))
        #expect(source.state == .rejected)
        #expect(source.error?.contains("gave up after 3 attempts") == true)
        #expect(try catalog.claimNext() == nil)
        // A failure not yet due is not claimed.
        _ = try catalog.register(path: "/in/b.mp4", size: 1, mtime: 1)
        let b = try #require(try catalog.claimNext())
        try catalog.finish(
            b.id!, .failed(code: "io", message: "later", retryAt: Date().timeIntervalSince1970 + 3600, maxAttempts: 5))
        #expect(try catalog.claimNext() == nil)
    }

    @Test("query by size, frames, duration, aspect and caption, with totals")
    func queries() throws {
        let catalog = try Self.fresh()
        _ = try catalog.register(path: "/in/cats.mp4", size: 1, mtime: 1)
        _ = try catalog.register(path: "/in/dogs.mp4", size: 1, mtime: 1)
        let cats = try #require(try catalog.claimNext()).id!, dogs = try #require(try catalog.claimNext()).id!
        try Self.seal(
            catalog, source: cats, size: 128, frames: 17, aspect: "1:1", count: 4, firstID: 100, path: "a.safetensors")
        try Self.seal(
            catalog, source: dogs, size: 256, frames: 33, aspect: "16:9", count: 2, firstID: 200, path: "b.safetensors",
            duration: 4.125)
        #expect(try catalog.addCaption(path: "/in/cats.mp4", text: "two cats playing in the garden", origin: "sidecar"))
        #expect(try catalog.addCaption(path: "/in/dogs.mp4", text: "a dog running on a beach", origin: "sidecar"))
        #expect(try !catalog.addCaption(path: "/in/unknown.mp4", text: "x", origin: "sidecar"))

        #expect(try catalog.query(ClipQuery(size: 128)).totalClips == 4)
        #expect(try catalog.query(ClipQuery(frames: 33)).totalClips == 2)
        #expect(try catalog.query(ClipQuery(minFrames: 20)).totalClips == 2)
        #expect(try catalog.query(ClipQuery(minDuration: 3)).totalClips == 2)
        #expect(try catalog.query(ClipQuery(maxDuration: 3)).totalClips == 4)
        #expect(try catalog.query(ClipQuery(aspect: "16:9")).totalClips == 2)
        let result = try catalog.query(ClipQuery(caption: "cats"))
        #expect(result.totalClips == 4 && result.totalTokens == 4 * 605)
        #expect(abs(result.totalSeconds - 4 * 2.125) < 1e-9)
        #expect(result.shardPaths == ["a.safetensors"])
        #expect(result.clips.first?.sourcePath == "/in/cats.mp4")
        #expect(try catalog.query(ClipQuery(caption: "beach", frames: 33)).totalClips == 2)
        #expect(try catalog.query(ClipQuery(size: 128, caption: "beach")).totalClips == 0)
        #expect(throws: CatalogError.self) { try catalog.query(ClipQuery(caption: "\"unbalanced")) }

        let status = try catalog.status()
        #expect(status.sources[.done] == 2)
        #expect(status.shards == 2)
        #expect(status.clipsByBucket.map(\.clips) == [4, 2])
    }

    @Test("totals stay right when one of two sources sharing a shard is retired")
    func liveTotals() throws {
        let catalog = try Self.fresh()
        _ = try catalog.register(path: "/in/a.mp4", size: 1, mtime: 1)
        _ = try catalog.register(path: "/in/b.mp4", size: 1, mtime: 1)
        let a = try #require(try catalog.claimNext()).id!, b = try #require(try catalog.claimNext()).id!
        try catalog.register(tokenizer: Self.tokenizer)
        let shard = ShardRecord(
            path: "mixed.safetensors", bucket: "128-x", size: 128, aspect: "1:1", width: 128, height: 128,
            frames: 17, fps: 8, tokenizerId: "abcd", clipCount: 5, bytes: 1, sha256: "00", createdAt: 0)
        let clips = (0..<5).map { i in
            ClipRecord(
                id: Int64(10 + i), sourceId: i < 3 ? a : b, bucket: "128-x", size: 128, width: 128, height: 128,
                aspect: "1:1",
                frames: 17, fps: 8, clipIndex: i, startTime: 0, endTime: 2.125, tokens: 100, row: i)
        }
        try catalog.seal(shard, clips: clips, completing: [a, b])
        try catalog.addCaption(path: "/in/b.mp4", text: "bees", origin: "x")
        #expect(try catalog.query(ClipQuery()).totalClips == 5)
        #expect(try catalog.query(ClipQuery(caption: "bees")).totalTokens == 200)
        try catalog.retire(path: "/in/a.mp4")
        let after = try catalog.query(ClipQuery())
        #expect(after.totalClips == 2 && after.totalTokens == 200 && abs(after.totalSeconds - 2 * 2.125) < 1e-9)
        #expect(after.clips.count == 2)
        #expect(try catalog.query(ClipQuery(caption: "bees")).totalClips == 2)
        #expect(try catalog.query(ClipQuery(size: 128, frames: 17, aspect: "1:1")).totalClips == 2)
    }

    @Test("a second connection (another process) reads while the first writes")
    func concurrentReaders() throws {
        let writer = try Self.fresh()
        let reader = try Catalog(path: writer.path)
        _ = try writer.register(path: "/in/a.mp4", size: 1, mtime: 1)
        #expect(try reader.source(path: "/in/a.mp4") != nil)
        #expect(try reader.status().sources[.pending] == 1)
    }

    /// `serve` creates the catalog while `status` polls it: switching a new file to WAL takes
    /// an exclusive lock that SQLite's busy timeout does not wait for, so an unguarded open
    /// failed with "database is locked" now and then (and the daemon with it).
    @Test("a new catalog opened by many connections at once (serve creating it while status polls): every open succeeds")
    func concurrentOpens() throws {
        for _ in 0..<100 {
            let path = Self.freshPath()
            let failures = Mutex<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 8) { _ in
                do { _ = try Catalog(path: path) } catch { failures.withLock { $0.append("\(error)") } }
            }
            #expect(failures.withLock { $0 }.isEmpty)
        }
    }
}

extension ClipQuery {
    init(caption: String, frames: Int) { self.init(frames: frames, caption: caption) }
}

@Suite("Near-duplicate index")
struct NearDuplicateIndexTests {
    @Test("band lookup finds exactly what a brute-force Hamming scan finds, for every supported radius")
    func matchesBruteForce() throws {
        var generator = SystemRandomNumberGenerator()
        let base = UInt64.random(in: 0...UInt64.max, using: &generator)
        // Hashes at every distance 0…16 from `base`, plus unrelated ones.
        var hashes: [UInt64] = (0...16).map { d in
            var h = base
            for bit in Array(0..<64).shuffled().prefix(d) { h ^= 1 << UInt64(bit) }
            return h
        }
        hashes += (0..<200).map { _ in UInt64.random(in: 0...UInt64.max, using: &generator) }
        for radius in [0, 3, 4, 6, 7, 8, 11] {
            let perBand = radius / 4
            let found = hashes.filter { h in
                zip(NearDuplicateIndex.bands(of: h), NearDuplicateIndex.bands(of: base)).contains { a, b in
                    NearDuplicateIndex.variations(of: b, within: perBand).contains(a)
                }
            }.filter { NearDuplicateIndex.distance($0, base) <= radius }
            let brute = hashes.filter { NearDuplicateIndex.distance($0, base) <= radius }
            #expect(Set(found) == Set(brute), "radius \(radius)")
        }
    }
}
