import Catalog
import ConfigCoding
import Foundation
import Logging
import Shards
import Tensor
import Testing
import TestSupport
import Tokenizer
import VideoIO
@testable import Ingest
#if canImport(Glibc)
import Glibc
#endif

@Suite("Ingest pipeline")
struct IngestPipelineTests {
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
    static let tokenizer = try! Tokenizer(
        configuration: TokenizerConfiguration(
            name: "ingest-test", baseChannels: 8, channelMultipliers: [1, 2, 2, 2, 2], latentDim: 8, normGroups: 4),
        logger: logger)

    /// A folder of inputs: 3 good videos (one with a .txt caption, one listed in captions.jsonl),
    /// a byte-identical copy, a text file named .mp4 and a 3-frame video.
    static func corpus() throws -> String {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ingest-\(UUID().uuidString)").path
        let input = root + "/in"
        try FileManager.default.createDirectory(atPath: input + "/nested", withIntermediateDirectories: true)
        for (name, seconds, size) in [("a.mp4", 7, "160x120"), ("b.mp4", 3, "192x108"), ("nested/c.mkv", 4, "176x144")]
        {
            try run(
                "ffmpeg",
                [
                    "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=\(size):rate=15:duration=\(seconds)",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", input + "/" + name,
                ])
        }
        try FileManager.default.copyItem(atPath: input + "/a.mp4", toPath: input + "/nested/a-copy.mp4")
        try "a dog chasing a red ball".write(toFile: input + "/a.txt", atomically: true, encoding: .utf8)
        try #"{"file": "b.mp4", "caption": "waves on a beach at sunset"}"#.write(
            toFile: input + "/captions.jsonl", atomically: true, encoding: .utf8)
        try "just some notes".write(toFile: input + "/notes.mp4", atomically: true, encoding: .utf8)
        try run(
            "ffmpeg",
            [
                "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=15:duration=1", "-frames:v", "3",
                "-c:v", "libx264", "-pix_fmt", "yuv420p", input + "/short.mp4",
            ])
        try "partial".write(toFile: input + "/incoming.mp4.part", atomically: true, encoding: .utf8)
        return root
    }

    static func run(_ tool: String, _ arguments: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [tool] + arguments
        try p.run()
        p.waitUntilExit()
        if p.terminationStatus != 0 { throw IngestError(.io, "\(tool) failed") }
    }

    static func pipeline(_ root: String, maxClips: Int = 4096) throws -> IngestPipeline {
        var configuration = IngestConfiguration(ingestFolders: [root + "/in"], dataFolder: root + "/data")
        configuration.video.clips.buckets.sizes = [128]
        configuration.shards.maxClips = maxClips
        try FileManager.default.createDirectory(atPath: configuration.dataFolder, withIntermediateDirectories: true)
        let catalog = try Catalog(path: configuration.catalogPath)
        return try IngestPipeline(configuration: configuration, catalog: catalog, tokenizer: tokenizer, logger: logger)
    }

    /// Every sealed shard matches the catalog (the library's check); the rows in the files.
    static func verify(_ pipeline: IngestPipeline) throws -> Int {
        let report = try ShardVerification.verify(pipeline.catalog, dataFolder: pipeline.configuration.dataFolder)
        #expect(report.problems.isEmpty, "\(report.problems)")
        return report.rows
    }

    @Test("a folder becomes sealed shards: good files done, duplicates aliased, bad files rejected with reasons")
    func endToEnd() throws {
        let root = try Self.corpus()
        let pipeline = try Self.pipeline(root, maxClips: 3)
        #expect(try pipeline.scan([root + "/in"]) == 6)  // .part, .txt and .jsonl are not media
        try pipeline.processAll()
        let catalog = pipeline.catalog

        func state(_ name: String) throws -> SourceRecord? {
            try catalog.source(path: URL(fileURLWithPath: root + "/in/" + name).standardizedFileURL.path)
        }
        #expect(try state("a.mp4")?.state == .done)
        #expect(try state("b.mp4")?.state == .done)
        #expect(try state("nested/c.mkv")?.state == .done)
        let copy = try #require(try state("nested/a-copy.mp4"))
        let original = try #require(try state("a.mp4"))
        #expect(copy.state == .done && copy.aliasOf == original.id)
        #expect(try state("notes.mp4")?.state == .rejected)
        #expect(try state("notes.mp4")?.errorCode == "unsupported")
        let short = try #require(try state("short.mp4"))
        #expect(short.state == .rejected && short.error?.contains("too short") == true)

        // a: 7 s → 56 frames → 3 clips; b: 3 s → 1; c: 4 s → 1. The copy adds none.
        let all = try catalog.query(ClipQuery())
        #expect(all.totalClips == 5)
        #expect(try Self.verify(pipeline) == 5)
        #expect(try catalog.shards().count >= 2)  // max 3 clips per shard
        #expect(try catalog.query(ClipQuery(caption: "dog")).totalClips == 3)
        #expect(try catalog.query(ClipQuery(caption: "beach")).totalClips == 1)
        #expect(try catalog.query(ClipQuery(aspect: "16:9")).totalClips == 1)
        #expect(try catalog.query(ClipQuery(size: 256)).totalClips == 0)

        // A second run finds nothing new.
        #expect(try pipeline.scan([root + "/in"]) == 0)
        try pipeline.processAll()
        #expect(try catalog.query(ClipQuery()).totalClips == 5)
    }

    @Test("an interrupted run resumes without losing or duplicating a clip, and stray shard files are removed")
    func resume() throws {
        let root = try Self.corpus()
        do {
            // Process a.mp4 (3 clips, shards of 2) and "crash": its first two clips are in a sealed
            // shard, the third only in memory, and a.mp4 is still `processing`.
            let first = try Self.pipeline(root, maxClips: 2)
            try first.scan([root + "/in"])
            let a = try #require(try first.catalog.claimNext())
            #expect(a.path.hasSuffix("/a.mp4"))
            try first.process(a)
            #expect(try first.catalog.query(ClipQuery()).totalClips == 2)
        }
        // A shard written but never recorded (crash between the rename and the catalog transaction).
        let stray = root + "/data/shards/x/stray.safetensors"
        try FileManager.default.createDirectory(atPath: root + "/data/shards/x", withIntermediateDirectories: true)
        try "junk".write(toFile: stray, atomically: true, encoding: .utf8)

        let second = try Self.pipeline(root, maxClips: 2)
        let recovery = try second.recover()
        #expect(recovery.removedFiles == 1 && !FileManager.default.fileExists(atPath: stray))
        #expect(recovery.sources == Catalog.Recovery(resumed: 1))
        try second.processAll()
        // a's first two clips were sealed before the "crash"; only its third is redone.
        #expect(second.progress.skippedClips == 2)
        let sources = try second.catalog.status().sources
        #expect(sources[.processing] == nil && sources[.pending] == nil)
        #expect(try second.catalog.query(ClipQuery()).totalClips == 5)
        #expect(try Self.verify(second) == 5)
    }

    @Test("a changed file is re-ingested and its old clips retired")
    func changedFile() throws {
        let root = try Self.corpus()
        let pipeline = try Self.pipeline(root)
        try pipeline.scan([root + "/in"])
        try pipeline.processAll()
        let b = root + "/in/b.mp4"
        try Self.run(
            "ffmpeg",
            [
                "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=192x108:rate=15:duration=6",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", b,
            ])
        #expect(try pipeline.scan([root + "/in"]) == 1)
        try pipeline.processAll()
        let bPath = URL(fileURLWithPath: b).standardizedFileURL.path
        let clips = try pipeline.catalog.query(ClipQuery(limit: 100)).clips.filter { $0.sourcePath == bPath }
        #expect(clips.count == 2)  // 6 s → 48 frames → 2 clips, the old one retired
    }

    static func video(_ path: String, seconds: Int, hue: Int = 0) throws {
        try run(
            "ffmpeg",
            [
                "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=15:duration=\(seconds)",
                "-vf", "hue=h=\(hue)", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", path,
            ])
    }

    /// A fresh root with an empty `in/` (and `in/SUBFOLDER`) for a test's files.
    static func emptyInput(_ name: String, subfolder: String = "") throws -> String {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/in" + subfolder, withIntermediateDirectories: true)
        return root
    }

    /// The live clip ids a clean ingest of exactly these files gives (ids do not depend on paths).
    static func cleanIngest(of files: [String]) throws -> Set<Int64> {
        let root = try emptyInput("clean")
        for (i, file) in files.enumerated() {
            try FileManager.default.copyItem(atPath: file, toPath: root + "/in/\(i).mp4")
        }
        let pipeline = try pipeline(root)
        try pipeline.scan([root + "/in"])
        try pipeline.processAll()
        return Set(try pipeline.catalog.query(ClipQuery(limit: 1000)).clips.map(\.clip.id))
    }

    static func liveIDs(_ pipeline: IngestPipeline) throws -> Set<Int64> {
        Set(try pipeline.catalog.query(ClipQuery(limit: 1000)).clips.map(\.clip.id))
    }

    @Test(
        "a file replaced (2 versions) or growing in bursts (4) while its clips wait unsealed: only the final bytes' clips stay live",
        arguments: [2, 4])
    func changedWhileOpen(versions: Int) throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("change-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/in", withIntermediateDirectories: true)
        let path = root + "/in/v.mp4"
        let pipeline = try Self.pipeline(root)  // shards hold 4096 clips: nothing seals until sealAll
        for version in 1...versions {
            try Self.video(path, seconds: versions == 2 ? 5 : 2 + 2 * version, hue: 40 * version)
            #expect(try pipeline.scan([path]) == 1)
            try pipeline.process(try #require(try pipeline.catalog.claimNext()))
            #expect(pipeline.hasOpenShards)  // this version's clips wait, unsealed
        }
        try pipeline.sealAll()  // every version's clips sealed together
        let final = root + "/final.mp4"
        try FileManager.default.copyItem(atPath: path, toPath: final)
        let expected = try Self.cleanIngest(of: [final])
        #expect(!expected.isEmpty)
        #expect(try Self.liveIDs(pipeline) == expected)
        #expect(try pipeline.catalog.query(ClipQuery()).totalClips == expected.count)
        #expect(try pipeline.catalog.source(path: path)?.state == .done)
        #expect(try Self.verify(pipeline) > expected.count)  // the stale rows are in the file, retired in the catalog
    }

    @Test("a file deleted while its clips are unsealed ends retired with no live clip, also after a restart")
    func deletedWhileProcessing() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("delete-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/in", withIntermediateDirectories: true)
        let gone = root + "/in/gone.mp4", kept = root + "/in/kept.mp4"
        try Self.video(gone, seconds: 5)
        try Self.video(kept, seconds: 3, hue: 90)
        do {
            let pipeline = try Self.pipeline(root)
            try pipeline.scan([root + "/in"])
            try pipeline.process(try #require(try pipeline.catalog.claimNext(under: [gone])))
            try FileManager.default.removeItem(atPath: gone)  // deleted mid-way; the daemon notices and retires it
            try pipeline.catalog.retire(path: gone)
            try pipeline.processAll()  // kept.mp4, then every open shard is sealed
            #expect(try pipeline.catalog.source(path: gone)?.state == .retired)
            #expect(try Self.liveIDs(pipeline) == (try Self.cleanIngest(of: [kept])))
            #expect(try Self.verify(pipeline) == 3)
        }
        let restarted = try Self.pipeline(root)
        try restarted.recover()
        #expect(try restarted.catalog.query(ClipQuery()).totalClips == 1)
        #expect(try restarted.catalog.query(ClipQuery(limit: 10)).clips.allSatisfy { $0.sourcePath == kept })
    }

    @Test("one writer per data folder: a second pipeline on it is refused and names the first")
    func oneWriter() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("lock-\(UUID().uuidString)").path
        let first = try Self.pipeline(root)
        _ = first
        do {
            _ = try Self.pipeline(root)
            Issue.record("a second writer was allowed")
        } catch let error as IngestError {
            #expect(error.code == .busy)
            #expect(error.message.contains("pid \(getpid())"), "\(error.message)")
        }
        let report = try #require(DataFolderLock.read(folder: root + "/data"))
        #expect(report.pid == getpid() && DataFolderLock.isAlive(report))
    }

    @Test("processing can be limited to the paths given: other pending sources wait")
    func scopedProcessing() throws {
        let root = try Self.corpus()
        let pipeline = try Self.pipeline(root)
        try pipeline.scan([root + "/in"])
        try pipeline.processAll(under: [root + "/in/nested"])
        let done = try pipeline.catalog.sources(in: .done).map { URL(fileURLWithPath: $0.path).lastPathComponent }
        #expect(Set(done) == ["c.mkv", "a-copy.mp4"])
        #expect(try pipeline.catalog.status().sources[.pending] == 4)
    }

    @Test("symlinked folders (and a symlinked root) are followed, loops walked once; a FIFO is rejected, not read")
    func linksAndFIFOs() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("links-\(UUID().uuidString)").path
        let real = root + "/real", linked = root + "/elsewhere"
        try FileManager.default.createDirectory(atPath: real, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: linked, withIntermediateDirectories: true)
        try Self.video(real + "/a.mp4", seconds: 3)
        try Self.video(linked + "/b.mp4", seconds: 3, hue: 60)
        try FileManager.default.createSymbolicLink(atPath: real + "/sub", withDestinationPath: linked)
        try FileManager.default.createSymbolicLink(atPath: linked + "/loop", withDestinationPath: real)  // a cycle
        try FileManager.default.createSymbolicLink(atPath: root + "/in", withDestinationPath: real)  // the root is a link
        #expect(mkfifo(real + "/pipe.mp4", 0o644) == 0)

        let pipeline = try Self.pipeline(root)
        #expect(
            IngestPipeline.candidates(under: root + "/in") == [
                root + "/in/a.mp4", root + "/in/pipe.mp4", root + "/in/sub/b.mp4",
            ])
        #expect(try pipeline.scan([root + "/in"]) == 3)
        try pipeline.processAll()  // returns: the FIFO is never opened for reading
        #expect(try pipeline.catalog.source(path: root + "/in/a.mp4")?.state == .done)
        #expect(try pipeline.catalog.source(path: root + "/in/sub/b.mp4")?.state == .done)
        let fifo = try #require(try pipeline.catalog.source(path: root + "/in/pipe.mp4"))
        #expect(fifo.state == .rejected && fifo.errorCode == "not-a-file")
        #expect(fifo.error?.contains("FIFO") == true)
    }

    @Test(
        "a file moved out and back with the same bytes has its clips live again, put back not duplicated (sealed or still open)",
        arguments: [true, false])
    func movedOutAndBack(sealedBefore: Bool) throws {
        let root = try Self.emptyInput("back")
        let path = root + "/in/v.mp4", away = root + "/v.mp4"
        try Self.video(path, seconds: 5)
        let expected = try Self.cleanIngest(of: [path])
        let pipeline = try Self.pipeline(root)
        try pipeline.scan([root + "/in"])
        try pipeline.process(try #require(try pipeline.catalog.claimNext()))
        if sealedBefore { try pipeline.sealAll() }
        try FileManager.default.moveItem(atPath: path, toPath: away)
        #expect(try pipeline.catalog.retire(path: path) == nil)
        #expect(try Self.liveIDs(pipeline).isEmpty)
        try FileManager.default.moveItem(atPath: away, toPath: path)
        #expect(try pipeline.scan([root + "/in"]) == 1)
        try pipeline.processAll()
        #expect(try Self.liveIDs(pipeline) == expected)
        #expect(try pipeline.catalog.query(ClipQuery()).totalClips == expected.count)
        #expect(try pipeline.catalog.source(path: path)?.state == .done)
        #expect(pipeline.progress.clips == expected.count, "tokenized once")
        #expect(pipeline.progress.revivedClips == (sealedBefore ? expected.count : 0))
        #expect(try Self.verify(pipeline) == expected.count)
    }

    @Test("deleting the first of two copies hands its clips, captions and completeness to the other")
    func deletedPrimaryWithCopy() throws {
        let root = try Self.corpus()
        let pipeline = try Self.pipeline(root)
        try pipeline.scan([root + "/in"])
        try pipeline.processAll()
        let a = root + "/in/a.mp4", copy = root + "/in/nested/a-copy.mp4"
        let before = try pipeline.catalog.query(ClipQuery(limit: 100))
        let dog = try pipeline.catalog.query(ClipQuery(caption: "dog", limit: 100))
        #expect(dog.totalClips > 0 && dog.clips.allSatisfy { $0.sourcePath == a })
        #expect(try pipeline.catalog.source(path: copy)?.aliasOf != nil)

        try FileManager.default.removeItem(atPath: a)
        #expect(try pipeline.catalog.retire(path: a) == copy)
        let after = try pipeline.catalog.query(ClipQuery(limit: 100))
        #expect(Set(after.clips.map(\.clip.id)) == Set(before.clips.map(\.clip.id)))
        let dogAfter = try pipeline.catalog.query(ClipQuery(caption: "dog", limit: 100))
        #expect(Set(dogAfter.clips.map(\.clip.id)) == Set(dog.clips.map(\.clip.id)))
        #expect(dogAfter.clips.allSatisfy { $0.sourcePath == copy })
        let heir = try #require(try pipeline.catalog.source(path: copy))
        #expect(heir.state == .done && heir.aliasOf == nil && heir.duration != nil)
        #expect(try pipeline.catalog.source(path: a)?.state == .retired)
        // Complete for the tokenizer still; a new one re-tokenizes it from the copy, not "missing".
        #expect(try pipeline.catalog.sourcesLacking(tokenizer: Self.tokenizer.identity.id).isEmpty)
        let requeue = try pipeline.catalog.requeue(for: "another", under: [copy])
        #expect(requeue.queued == 1 && requeue.missing.isEmpty)
        #expect(try Self.verify(pipeline) == before.totalClips)
    }

    @Test("deleting a source while its clips wait unsealed re-queues its copy, which takes them over")
    func deletedInFlightWithCopy() throws {
        let root = try Self.emptyInput("heir")
        let a = root + "/in/a.mp4", copy = root + "/in/b-copy.mp4"
        try Self.video(a, seconds: 5)
        try FileManager.default.copyItem(atPath: a, toPath: copy)
        let expected = try Self.cleanIngest(of: [a])
        let pipeline = try Self.pipeline(root)  // nothing seals until sealAll
        try pipeline.scan([root + "/in"])
        try pipeline.process(try #require(try pipeline.catalog.claimNext(under: [a])))
        try pipeline.process(try #require(try pipeline.catalog.claimNext(under: [copy])))
        #expect(try pipeline.catalog.source(path: copy)?.aliasOf != nil)
        try FileManager.default.removeItem(atPath: a)
        #expect(try pipeline.catalog.retire(path: a) == nil, "in flight: retired, the copy re-queued")
        #expect(try pipeline.catalog.source(path: copy)?.state == .pending)
        try pipeline.processAll()
        #expect(try Self.liveIDs(pipeline) == expected)
        #expect(try pipeline.catalog.query(ClipQuery(limit: 100)).clips.allSatisfy { $0.sourcePath == copy })
        let heir = try #require(try pipeline.catalog.source(path: copy))
        #expect(heir.state == .done && heir.aliasOf == nil)
        #expect(pipeline.progress.clips == expected.count, "tokenized once, for a.mp4; the copy took them over")
        #expect(try Self.verify(pipeline) == expected.count)
    }

    @Test("a file moved to another folder while its clips wait unsealed is done at its new path with every clip")
    func movedWhileOpen() throws {
        let root = try Self.emptyInput("move", subfolder: "/sub")
        let a = root + "/in/a.mp4", moved = root + "/in/sub/a.mp4"
        try Self.video(a, seconds: 5)
        let expected = try Self.cleanIngest(of: [a])
        let pipeline = try Self.pipeline(root)
        try pipeline.scan([root + "/in"])
        try pipeline.process(try #require(try pipeline.catalog.claimNext()))
        try FileManager.default.moveItem(atPath: a, toPath: moved)
        try pipeline.catalog.retire(path: a)
        #expect(try pipeline.scan([root + "/in"]) == 1)
        try pipeline.processAll()
        #expect(try Self.liveIDs(pipeline) == expected)
        #expect(try pipeline.catalog.query(ClipQuery(limit: 100)).clips.allSatisfy { $0.sourcePath == moved })
        #expect(try pipeline.catalog.source(path: moved)?.state == .done)
        #expect(pipeline.progress.clips == expected.count)
        #expect(try Self.verify(pipeline) == expected.count)
    }

    @Test("a deleted copy inherits nothing: deleting the copy, then the original, leaves no live clip")
    func deletedCopyThenPrimary() throws {
        let root = try Self.corpus()
        let pipeline = try Self.pipeline(root)
        try pipeline.scan([root + "/in"])
        try pipeline.processAll()
        let a = root + "/in/a.mp4", copy = root + "/in/nested/a-copy.mp4"
        let before = try pipeline.catalog.query(ClipQuery(limit: 100)).clips
        let ofA = Set(before.filter { $0.sourcePath == a }.map(\.clip.id))
        try FileManager.default.removeItem(atPath: copy)
        #expect(try pipeline.catalog.retire(path: copy) == nil)
        try FileManager.default.removeItem(atPath: a)
        #expect(try pipeline.catalog.retire(path: a) == nil)
        #expect(try Self.liveIDs(pipeline) == Set(before.map(\.clip.id)).subtracting(ofA))
        #expect(try pipeline.catalog.source(path: copy)?.state == .retired)
        #expect(try pipeline.catalog.source(path: copy)?.aliasOf == nil)
    }

    @Test("a copy keeps the old bytes when the original is rewritten: it is re-ingested, and survives the original")
    func rewrittenPrimaryWithCopy() throws {
        let root = try Self.emptyInput("rewrite")
        let a = root + "/in/a.mp4", copy = root + "/in/copy.mp4", old = root + "/old.mp4"
        try Self.video(a, seconds: 5)
        try FileManager.default.copyItem(atPath: a, toPath: copy)
        try FileManager.default.copyItem(atPath: a, toPath: old)
        let pipeline = try Self.pipeline(root)
        try pipeline.scan([root + "/in"])
        try pipeline.processAll()
        try Self.video(a, seconds: 3, hue: 120)  // new bytes under the original's name
        #expect(try pipeline.scan([root + "/in"]) == 1)
        try pipeline.processAll()
        let oldIDs = try Self.cleanIngest(of: [old]), newIDs = try Self.cleanIngest(of: [a])
        #expect(try Self.liveIDs(pipeline) == oldIDs.union(newIDs))
        #expect(pipeline.progress.revivedClips == oldIDs.count, "the copy's clips came back, not re-tokenized")
        try FileManager.default.removeItem(atPath: a)
        #expect(try pipeline.catalog.retire(path: a) == nil, "the copy holds other bytes: it takes nothing over")
        #expect(try Self.liveIDs(pipeline) == oldIDs)
        #expect(try pipeline.catalog.query(ClipQuery(limit: 100)).clips.allSatisfy { $0.sourcePath == copy })
        #expect(try Self.verify(pipeline) > oldIDs.count)
    }

    @Test("a copy that once held other bytes (and their curation record) still takes the original over")
    func heirWithPastOfItsOwn() throws {
        let root = try Self.emptyInput("past")
        let a = root + "/in/a.mp4", b = root + "/in/b.mp4"
        try Self.video(a, seconds: 5)
        try Self.video(b, seconds: 3, hue: 200)
        let pipeline = try Self.pipeline(root)
        try pipeline.scan([root + "/in"])
        try pipeline.processAll()
        try FileManager.default.removeItem(atPath: b)
        try FileManager.default.copyItem(atPath: a, toPath: b)  // b now holds a's bytes: an alias
        #expect(try pipeline.scan([root + "/in"]) == 1)
        try pipeline.processAll()
        #expect(try pipeline.catalog.source(path: b)?.aliasOf != nil)
        let expected = try Self.cleanIngest(of: [a])
        #expect(try Self.liveIDs(pipeline) == expected)
        try FileManager.default.removeItem(atPath: a)
        #expect(try pipeline.catalog.retire(path: a) == b)
        #expect(try Self.liveIDs(pipeline) == expected)
        #expect(try pipeline.catalog.source(path: b)?.state == .done)
    }

    @Test("a file touched without changing its bytes keeps its clips: nothing is redone or duplicated")
    func touchedFile() throws {
        let root = try Self.corpus()
        let pipeline = try Self.pipeline(root)
        try pipeline.scan([root + "/in"])
        try pipeline.processAll()
        let before = try pipeline.catalog.query(ClipQuery(limit: 100))
        let a = root + "/in/a.mp4"
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(60)], ofItemAtPath: a)
        #expect(try pipeline.scan([root + "/in"]) == 1)
        try pipeline.processAll()
        let after = try pipeline.catalog.query(ClipQuery(limit: 100))
        #expect(after.totalClips == before.totalClips)
        #expect(Set(after.clips.map(\.clip.id)) == Set(before.clips.map(\.clip.id)))
        #expect(try pipeline.catalog.source(path: URL(fileURLWithPath: a).standardizedFileURL.path)?.state == .done)
        #expect(try Self.verify(pipeline) == before.totalClips)
    }

    @Test("a shard that cannot be written fails its sources for a retry instead of stopping the run")
    func sealFailure() throws {
        let root = try Self.corpus()
        var configuration = IngestConfiguration(ingestFolders: [root + "/in"], dataFolder: root + "/data")
        configuration.video.clips.buckets.sizes = [128]
        configuration.retry.backoffSeconds = 0
        try FileManager.default.createDirectory(atPath: configuration.shardFolder, withIntermediateDirectories: true)
        // A file where the 4:3 shards' folder must go: every 4:3 shard fails to write.
        let blocker = configuration.shardFolder + "/128-4x3-144x112-f17"
        try "in the way".write(toFile: blocker, atomically: true, encoding: .utf8)
        let pipeline = try IngestPipeline(
            configuration: configuration, catalog: Catalog(path: configuration.catalogPath),
            tokenizer: Self.tokenizer, logger: Self.logger)
        try pipeline.scan([root + "/in"])
        try pipeline.processAll()  // no throw: the run goes on
        #expect(pipeline.progress.failed >= 1)
        #expect(try pipeline.catalog.status().sources[.failed] != nil)
        // Every open shard was given up with the failed one (b.mp4's too, if it was still open):
        // no source is done without its clips.
        for source in try pipeline.catalog.sources(in: .done) where source.aliasOf == nil {
            #expect(try pipeline.catalog.query(ClipQuery(limit: 100)).clips.contains { $0.clip.sourceId == source.id })
        }

        try FileManager.default.removeItem(atPath: blocker)
        try pipeline.processAll()  // retried (backoff 0)
        #expect(try pipeline.catalog.status().sources[.failed] == nil)
        #expect(try pipeline.catalog.query(ClipQuery()).totalClips == 5)
        #expect(try Self.verify(pipeline) == 5)
    }

    @Test(
        "a shard failing in the middle of a source never leaves it done with clips missing; the retry completes it once"
    )
    func sealFailureMidSource() throws {
        let root = try Self.corpus()
        func pipeline(_ data: String, blocked: Bool) throws -> IngestPipeline {
            var configuration = IngestConfiguration(ingestFolders: [root + "/in"], dataFolder: root + "/" + data)
            configuration.video.clips.buckets.sizes = [64, 128]  // each source in two layouts
            configuration.shards.maxClips = 1  // every clip seals a shard: seals happen mid-source
            configuration.retry.backoffSeconds = 3600  // no retry while the folder is blocked
            try FileManager.default.createDirectory(
                atPath: configuration.shardFolder, withIntermediateDirectories: true)
            if blocked {  // a file where the 128² 4:3 shards' folder must go
                try "in the way".write(
                    toFile: configuration.shardFolder + "/128-4x3-144x112-f17", atomically: true, encoding: .utf8)
            }
            return try IngestPipeline(
                configuration: configuration, catalog: Catalog(path: configuration.catalogPath),
                tokenizer: Self.tokenizer, logger: Self.logger)
        }
        func clipsPerSource(_ p: IngestPipeline) throws -> [String: Int] {
            var counts: [String: Int] = [:]
            for row in try p.catalog.query(ClipQuery(limit: 1000)).clips {
                let path = try #require(try p.catalog.source(id: row.clip.sourceId)).path
                counts[path, default: 0] += 1
            }
            return counts
        }
        let clean = try pipeline("clean", blocked: false)
        try clean.scan([root + "/in"])
        try clean.processAll()
        let expected = try clipsPerSource(clean)
        #expect(try clean.catalog.query(ClipQuery(size: 64)).totalClips > 0)

        let broken = try pipeline("broken", blocked: true)
        try broken.scan([root + "/in"])
        try broken.processAll()
        #expect(broken.progress.failed >= 1)
        let partial = try clipsPerSource(broken)
        for source in try broken.catalog.sources(in: .done) where source.aliasOf == nil {
            #expect(partial[source.path] == expected[source.path], "\(source.path) is done with clips missing")
        }
        try FileManager.default.removeItem(atPath: broken.configuration.shardFolder + "/128-4x3-144x112-f17")
        for var source in try broken.catalog.sources(in: .failed) {  // the backoff is over
            source.nextAttemptAt = 0
            try broken.catalog.update(source)
        }
        try broken.processAll()  // the retry
        #expect(try broken.catalog.status().sources[.failed] == nil)
        let final = try clipsPerSource(broken)
        let stillFailed = try broken.catalog.sources(in: .failed).map { "\($0.path): \($0.error ?? "")" }
        #expect(final == expected, "\(final) vs \(expected); failed: \(stillFailed)")
        #expect(try Self.verify(broken) == expected.values.reduce(0, +))
    }

    @Test("a folder of bad inputs: every one rejected with its reason, the good file done")
    func badInputs() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID().uuidString)").path
        let input = root + "/in"
        try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
        try Self.run(
            "ffmpeg",
            [
                "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=15:duration=4",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", input + "/good.mp4",
            ])
        let good = try Data(contentsOf: URL(fileURLWithPath: input + "/good.mp4"))
        try Data(good.prefix(good.count / 2)).write(to: URL(fileURLWithPath: input + "/cut.mp4"))  // moov at the end: gone
        try Data().write(to: URL(fileURLWithPath: input + "/empty.mp4"))
        var generator = SystemRandomNumberGenerator()
        try Data((0..<20_000).map { _ in UInt8.random(in: 0...255, using: &generator) }).write(
            to: URL(fileURLWithPath: input + "/noise.mkv"))
        try Self.run(
            "ffmpeg", ["-v", "error", "-y", "-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", input + "/tone.m4a"])
        try "not a video".write(toFile: input + "/text.mp4", atomically: true, encoding: .utf8)

        let pipeline = try Self.pipeline(root)
        try pipeline.scan([input])
        try pipeline.processAll()
        let expected: [String: String] = [
            "cut.mp4": "truncated", "empty.mp4": "truncated", "noise.mkv": "unsupported",
            "tone.m4a": "no-video-stream", "text.mp4": "unsupported",
        ]
        for (name, code) in expected {
            let source = try #require(
                try pipeline.catalog.source(path: URL(fileURLWithPath: input + "/" + name).standardizedFileURL.path))
            #expect(source.state == .rejected, "\(name)")
            #expect(source.errorCode == code, "\(name): \(source.errorCode ?? "-") \(source.error ?? "")")
            #expect(!(source.error ?? "").isEmpty, "\(name) has no reason")
        }
        #expect(
            try pipeline.catalog.source(path: URL(fileURLWithPath: input + "/good.mp4").standardizedFileURL.path)?.state
                == .done)
        #expect(try pipeline.catalog.status().recentErrors.count == expected.count)
    }

    static let numpyAvailable = pythonCanImport("numpy")

    @Test(
        "an ingested shard reads back through the NumPy script of Schemas/shard-format.md",
        .enabled(if: numpyAvailable, "needs python3 with numpy (make test installs it)"))
    func numpyReadsIngestedShard() throws {
        let root = try Self.corpus()
        let pipeline = try Self.pipeline(root)
        try pipeline.scan([root + "/in"])
        try pipeline.processAll()
        let record = try #require(try pipeline.catalog.shards().first)
        let path = pipeline.configuration.dataFolder + "/" + record.path
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let document = try String(
            contentsOf: repository.appendingPathComponent("Schemas/shard-format.md"), encoding: .utf8)
        let script = try #require(
            document.components(separatedBy: "```python\n").dropFirst().first?.components(separatedBy: "```").first)
        try script.write(toFile: root + "/shard_reader.py", atomically: true, encoding: .utf8)
        try """
        import json, sys
        sys.path.insert(0, sys.argv[2])
        from shard_reader import read_shard
        ids, bits, meta = read_shard(sys.argv[1])
        open(sys.argv[3], "w").write(json.dumps({"ids": ids.tolist(), "first": bits[0].reshape(-1).tolist(), "tokenizer": meta["tokenizer_id"]}))
        """.write(toFile: root + "/check.py", atomically: true, encoding: .utf8)
        try Self.run("python3", [root + "/check.py", path, root, root + "/out.json"])
        let result = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: root + "/out.json")))
                as? [String: Any])
        #expect(
            (result["ids"] as? [Int])?.map(Int64.init) == (try pipeline.catalog.clips(inShard: record.id!).map(\.id)))
        #expect(result["tokenizer"] as? String == Self.tokenizer.identity.id)
        let ours: [UInt8] = try Shard(path: path).bits(row: 0).reshaped([-1]).scalars()
        #expect((result["first"] as? [Int])?.map(UInt8.init) == ours)
    }

    @Test("the shipped Configs/daemon.yaml states the defaults; unknown keys are named", arguments: ["daemon.yaml"])
    func configuration(name: String) throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("Configs/\(name)"), encoding: .utf8)
        let decoded = try decodeYAML(text)
        #expect(decoded == IngestConfiguration())
        #expect {
            try decodeYAML("shards:\n  max_clip: 3\n")
        } throws: { error in
            guard case .dataCorrupted(let context) = error as? DecodingError else { return false }
            return keyPath(context.codingPath) == "shards.max_clip"
                && context.debugDescription.contains("unknown key 'max_clip'")
        }
    }

    @Test("a partial section keeps the daemon's defaults for what it leaves out, at every depth")
    func partialSections() throws {
        // The reported bug: `video: {clips: {fps: 4}}` fell back to VideoIO's own buckets (with 512).
        let fps = try decodeYAML("video: {clips: {fps: 4}}\n")
        #expect(fps.video.clips.fps == 4)
        #expect(fps.video.clips.buckets.sizes == [128, 256])
        #expect(fps.video.clips.frames == 17 && fps.video.limits == VideoIOLimits())
        let deeper = try decodeYAML("video:\n  clips:\n    buckets: {max_upscale: 2}\n")
        #expect(deeper.video.clips.buckets.sizes == [128, 256] && deeper.video.clips.buckets.maxUpscale == 2)
        #expect(deeper.video.clips.buckets.aspectRatios == AspectRatio.defaults)
        let retry = try decodeYAML("retry: {max_crashes: 1}\nwatch: {stable_seconds: 0.5}\n")
        #expect(retry.retry == IngestConfiguration.RetryPolicy(maxCrashes: 1))
        #expect(retry.watch == IngestConfiguration.WatchPolicy(stableSeconds: 0.5))
        #expect(retry.video == IngestConfiguration.defaultVideo)
        let empty = try decodeYAML("video: {}\n")
        #expect(empty == IngestConfiguration())
        // Encoding writes every key back under its document name; decoding that gives the same value.
        let encoded = try JSONEncoder().encode(fps)
        #expect(try JSONDecoder().decode(IngestConfiguration.self, from: encoded) == fps)
        #expect(String(decoding: encoded, as: UTF8.self).contains("\"idle_seal_seconds\""))
    }
}

import Yams

func decodeYAML(_ text: String) throws -> IngestConfiguration {
    try YAMLDecoder().decode(IngestConfiguration.self, from: text)
}

@Suite("Schemas/config.schema.json documents the daemon configuration truthfully")
struct DaemonSchemaTests {
    @Test("every documented key decodes, and its documented default is the real default")
    func defaults() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let schema = root.appendingPathComponent("Schemas/config.schema.json")
        #expect(try SchemaDefaults.leaves(of: schema).count == 15 + 19)  // video (clips + limits) + the daemon's own keys (curation: 4)
        let decoded = try JSONDecoder().decode(IngestConfiguration.self, from: SchemaDefaults.document(of: schema))
        #expect(decoded == IngestConfiguration())
    }
}
