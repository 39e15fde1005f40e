import Testing
import VideoIO

@Suite("Nearest-frame sampler (pure timing logic)")
struct NearestFrameSamplerTests {
    /// Feeds `pts` and returns, per target slot, the index of the frame chosen.
    func choose(_ pts: [Int64], timeBase: Rational, fps: Rational, lastDuration: Int64? = nil) -> [Int] {
        var sampler = NearestFrameSampler(timeBase: timeBase, fps: fps)
        var chosen: [Int] = []
        var accepted: [Int] = []  // indices of frames the sampler took
        for (i, p) in pts.enumerated() {
            guard sampler.accepts(p) else { continue }
            for selection in sampler.push(p) {
                #expect(selection.index == chosen.count, "slots are decided in order")
                chosen.append(selection.choice == .previous ? accepted.last! : i)
            }
            accepted.append(i)
        }
        for slot in sampler.finish(lastFrameDuration: lastDuration) {
            #expect(slot == chosen.count)
            chosen.append(accepted.last!)
        }
        return chosen
    }

    @Test("30 → 8 fps picks the nearest frame and breaks ties toward the earlier one")
    func downsampleWithTies() {
        // 30 fps in a 1/15360 time base (what MP4 uses): 512 units per frame.
        let pts = (0..<30).map { Int64($0) * 512 }
        let chosen = choose(pts, timeBase: Rational(1, 15360), fps: Rational(8, 1))
        // Target j is at j/8 s = frame 3.75·j; j = 2 (0.25 s) lies exactly between frames 7 and 8.
        #expect(chosen == [0, 4, 7, 11, 15, 19, 22, 26])
    }

    @Test("upsampling repeats frames; the last frame covers its own duration only")
    func upsample() {
        let pts: [Int64] = [0, 1, 2, 3]  // 10 fps in a 1/10 time base
        let chosen = choose(pts, timeBase: Rational(1, 10), fps: Rational(20, 1))
        #expect(chosen == [0, 0, 1, 1, 2, 2, 3, 3])
    }

    @Test("variable frame rate: each target takes the frame nearest in time")
    func variableRate() {
        // Frames at 0, 0.1, 0.5, 0.55, 1.2 s (time base 1/100).
        let pts: [Int64] = [0, 10, 50, 55, 120]
        let chosen = choose(pts, timeBase: Rational(1, 100), fps: Rational(4, 1), lastDuration: 5)
        // Targets 0, .25, .5, .75, 1.0 (the last frame ends at 1.25, so no slot at 1.25):
        // .25 is 0.15 from .1 and 0.25 from .5; .75 is nearer .55; 1.0 is nearer 1.2.
        #expect(chosen == [0, 1, 2, 3, 4])
    }

    @Test("frames whose time does not advance are ignored")
    func nonMonotonic() {
        let pts: [Int64] = [0, 10, 10, 5, 20, 30]
        let chosen = choose(pts, timeBase: Rational(1, 40), fps: Rational(4, 1))
        #expect(chosen == [0, 1, 4, 5])
    }

    @Test("NTSC rates are exact: 30000/1001 → 8 fps over an hour drifts by nothing")
    func ntscExact() {
        var sampler = NearestFrameSampler(timeBase: Rational(1001, 30000), fps: Rational(8, 1))
        var count = 0
        var frameForSlot: [Int: Int64] = [:]
        for i in 0..<Int64(107_892) {  // 107 892 frames end at 3599.9964 s
            for selection in sampler.push(i) {
                count += 1
                frameForSlot[selection.index] = selection.choice == .previous ? i - 1 : i
            }
        }
        count += sampler.finish().count
        // Slots at j/8 s below 3599.9964 s: j = 0 … 28 799.
        #expect(count == 28_800)
        // Slot 28 792 (3599 s) sits at frame 3599·30000/1001 = 107 862.14 → frame 107 862.
        #expect(frameForSlot[28_792] == 107_862)
        #expect(frameForSlot[1] == 4)  // 0.125 s = frame 3.746
    }

    @Test("a single frame (a still image) fills exactly one slot")
    func singleFrame() {
        #expect(choose([7], timeBase: Rational(1, 25), fps: Rational(8, 1)) == [0])
    }
}
