import Catalog
import Foundation
import Testing
import TestSupport
import VideoIO

@testable import Ingest

/// Curation as the daemon does it: scores stored per clip, dead clips dropped and counted,
/// near-duplicates marked, and the query filters that use them.
@Suite("Curation during ingest")
struct CurationIngestTests {
    static func ingest(_ files: (String) throws -> Void, radius: Int? = 6) throws -> IngestPipeline {
        let root = try temporaryFolder("curation-ingest")
        try FileManager.default.createDirectory(atPath: root + "/in", withIntermediateDirectories: true)
        try files(root + "/in")
        var configuration = IngestConfiguration(ingestFolders: [root + "/in"], dataFolder: root + "/data")
        configuration.video.clips.buckets.sizes = [128]
        configuration.video.clips.frames = 9
        configuration.curation.duplicateRadius = radius
        try FileManager.default.createDirectory(atPath: configuration.dataFolder, withIntermediateDirectories: true)
        let pipeline = try IngestPipeline(
            configuration: configuration, catalog: try Catalog(path: configuration.catalogPath),
            tokenizer: IngestPipelineTests.tokenizer, logger: IngestPipelineTests.logger)
        _ = try pipeline.scan([root + "/in"])
        try pipeline.processAll()
        return pipeline
    }

    @Test("black and frozen clips are dropped and counted by reason; the moving ones keep their scores")
    func deadClipsDropped() throws {
        let pipeline = try Self.ingest { folder in _ = try CurationFixtures.dead(in: folder) }
        let catalog = pipeline.catalog
        let source = try #require(try catalog.sources(in: .done).first)
        let curation = try #require(try catalog.curation(source: source.id!))
        #expect(curation.droppedStatic >= 2)  // the 3 s frozen stretch holds two 9-frame clips
        #expect(curation.droppedBlack >= 2)
        #expect(curation.cuts.count == 1)  // the cut to black
        let kept = try catalog.query(ClipQuery(limit: 100)).clips.map(\.clip)
        #expect(!kept.isEmpty)
        #expect(kept.allSatisfy { ($0.motion ?? 0) > 1 && $0.black == 0 && $0.singleShot == true })
        let status = try catalog.curationStatus()
        #expect(status.droppedStatic == curation.droppedStatic && status.droppedBlack == curation.droppedBlack)
        #expect(status.scored == kept.count)
        #expect(try IngestPipelineTests.verify(pipeline) == kept.count)
    }

    @Test("the same footage re-encoded at another size is marked a near-duplicate; other footage is not")
    func nearDuplicates() throws {
        let pipeline = try Self.ingest { folder in
            let original = try CurationFixtures.cut(in: folder)
            _ = try CurationFixtures.reencoded(original, to: folder + "/reupload.mp4")
            try runTool(  // other footage: Conway's life
                "ffmpeg",
                [
                    "-v", "error", "-y", "-f", "lavfi", "-i", "life=size=320x240:rate=25:ratio=0.3:seed=7",
                    "-t", "4", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", folder + "/other.mp4",
                ])
        }
        let catalog = pipeline.catalog
        let all = try catalog.query(ClipQuery(limit: 100))
        let byFile = Dictionary(grouping: all.clips) { ($0.sourcePath as NSString).lastPathComponent }
        let (cut, copy) = (byFile["cut.mp4"] ?? [], byFile["reupload.mp4"] ?? [])
        #expect(cut.count == 4 && copy.count == 4 && byFile["other.mp4"]?.isEmpty == false)
        // Exactly one of each pair (same clip index) points at the other.
        for (a, b) in zip(
            cut.sorted { $0.clip.clipIndex < $1.clip.clipIndex }, copy.sorted { $0.clip.clipIndex < $1.clip.clipIndex })
        {
            #expect(a.clip.duplicateOf == b.clip.id || b.clip.duplicateOf == a.clip.id)
            #expect(a.clip.duplicateOf == nil || b.clip.duplicateOf == nil)
        }
        let unique = try catalog.query(ClipQuery(limit: 100, noNearDuplicates: true))
        #expect(unique.totalClips == all.totalClips - 4)
        #expect(try catalog.trainingRows(ClipQuery(noNearDuplicates: true)).count == unique.totalClips)
        #expect(try catalog.curationStatus().nearDuplicates == 4)
        // A stricter motion filter narrows the totals clip by clip, not shard by shard.
        let moving = try catalog.query(ClipQuery(limit: 100, minMotion: 5))
        #expect(moving.totalClips == all.clips.filter { ($0.clip.motion ?? 0) >= 5 }.count)
        #expect(moving.totalClips > 0 && moving.totalClips < all.totalClips)
    }

    @Test("with the lookup off nothing is marked")
    func lookupOff() throws {
        let pipeline = try Self.ingest(
            { folder in
                let original = try CurationFixtures.cut(in: folder)
                _ = try CurationFixtures.reencoded(original, to: folder + "/reupload.mp4")
            }, radius: nil)
        #expect(try pipeline.catalog.curationStatus().nearDuplicates == 0)
    }
}

extension CurationIngestTests {
    @Test("a video too short for a full clip is done with its shorter clip and the decision as a note")
    func shortVideoKept() throws {
        let pipeline = try Self.ingest { folder in
            try runTool(
                "ffmpeg",
                [
                    "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=0.9",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", folder + "/short.mp4",
                ])
        }
        let source = try #require(try pipeline.catalog.sources(in: .done).first)
        #expect(source.errorCode == "short")
        #expect(source.error?.contains("made one 5-frame clip") == true)  // 0.9 s at 8 fps: 7 frames hold 1 + 4
        #expect(try pipeline.catalog.query(ClipQuery()).clips.map(\.clip.frames) == [5])
    }
}

extension CurationIngestTests {
    @Test("the configuration accepts exactly the radii the catalog's lookup supports")
    func radiusLimit() throws {
        #expect(IngestConfiguration.CurationPolicy.maxDuplicateRadius == NearDuplicateIndex.maxRadius)
        var configuration = IngestConfiguration()
        configuration.curation.duplicateRadius = NearDuplicateIndex.maxRadius + 1
        #expect(throws: IngestError.self) { try configuration.validate() }
    }
}
