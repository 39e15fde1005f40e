import Testing
import VideoIO

@Suite("Buckets")
struct BucketTests {
    @Test("sizes are multiples of 16 with √(H·W) close to the nominal size", arguments: [128, 256, 512])
    func dimensions(size: Int) {
        for aspect in AspectRatio.defaults {
            let bucket = Bucket(size: size, aspect: aspect)
            #expect(bucket.width % 16 == 0 && bucket.height % 16 == 0)
            let root = (Double(bucket.width * bucket.height)).squareRoot()
            #expect(abs(root - Double(size)) / Double(size) < 0.07, "\(bucket)")
            #expect(abs(Double(bucket.width) / Double(bucket.height) - aspect.value) / aspect.value < 0.15, "\(bucket)")
        }
    }

    @Test("aspect ratios snap to the nearest configured one")
    func snapping() {
        let policy = BucketPolicy()
        #expect(policy.snappedAspect(width: 1920, height: 1080) == AspectRatio(16, 9))
        #expect(policy.snappedAspect(width: 1080, height: 1920) == AspectRatio(9, 16))
        #expect(policy.snappedAspect(width: 640, height: 480) == AspectRatio(4, 3))
        #expect(policy.snappedAspect(width: 500, height: 510) == AspectRatio(1, 1))
        #expect(policy.snappedAspect(width: 2560, height: 1080) == AspectRatio(21, 9))
        #expect(policy.snappedAspect(width: 176, height: 144) == AspectRatio(4, 3))
    }

    @Test("buckets larger than the source are skipped unless enlargement is allowed")
    func noUpscale() {
        let strict = BucketPolicy(sizes: [128, 256, 512])
        let plan = strict.buckets(width: 320, height: 240)
        #expect(plan.fitting.map(\.size) == [128, 256])
        #expect(plan.skipped.map(\.bucket.size) == [512])
        #expect(plan.skipped[0].reason.contains("enlargement"))

        let tiny = strict.buckets(width: 33, height: 17)
        #expect(tiny.fitting.isEmpty && tiny.skipped.count == 3)

        let loose = BucketPolicy(sizes: [128], maxUpscale: 8)
        #expect(loose.buckets(width: 33, height: 17).fitting.map(\.size) == [128])
    }

    @Test("aspect ratios parse from text and refuse nonsense")
    func parsing() {
        #expect(AspectRatio("16:9") == AspectRatio(16, 9))
        #expect(AspectRatio("4x3") == AspectRatio(4, 3))
        #expect(AspectRatio("0:3") == nil)
        #expect(AspectRatio("wide") == nil)
    }

    @Test("configuration validation names the offending key")
    func validation() {
        #expect(throws: VideoIOError.self) { try ClipConfiguration(frames: 16).validate() }
        do {
            try ClipConfiguration(frames: 16).validate()
        } catch let error as VideoIOError {
            #expect(error.code == .invalidConfiguration && error.message.contains("frames"))
        } catch {}
        #expect(throws: VideoIOError.self) { try ClipConfiguration(fps: 0).validate() }
        #expect(throws: VideoIOError.self) { try ClipConfiguration(buckets: BucketPolicy(sizes: [])).validate() }
        #expect(throws: Never.self) { try ClipConfiguration(frames: 65).validate() }
    }
}
