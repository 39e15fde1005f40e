import CFFmpeg
import Dispatch
import Logging

/// Cuts one media file into clips, streaming: it decodes once, picks frames by nearest
/// presentation time on the target-rate grid, and converts only the picked frames into
/// every bucket the source fits.
///
/// Memory is bounded by the open clip windows (⌈T / stride⌉ per bucket) plus two
/// decoded pictures, whatever the file's length. Pull clips with `next()`; when it
/// returns nil, `outcome` says how reading ended — including damage: a truncated or
/// corrupt file yields the complete clips before the damage and reports where it stopped.
public final class ClipReader {
    /// What the file is.
    public var media: MediaInfo { file.info }
    /// The buckets this source is cut into.
    public let buckets: [Bucket]
    /// Buckets the source is too small for, with the reason.
    public let skippedBuckets: [BucketPolicy.Skipped]
    /// The content region when black bars were found and cut off (`crop_borders`).
    public let crop: CropRegion?
    /// Frames per clip for this source (1 for a still image).
    public let framesPerClip: Int
    public let configuration: ClipConfiguration

    /// How reading ended; nil until `next()` has returned nil.
    public private(set) var outcome: Outcome?

    /// How a read ended.
    public struct Outcome: Sendable {
        /// Clips produced per bucket.
        public var clips: [Bucket: Int]
        /// Pictures decoded and target-rate frames sampled.
        public var decodedFrames: Int
        public var sampledFrames: Int
        /// Set when reading stopped early on damage (truncated, corrupt, I/O): clips before it are good.
        public var damage: VideoIOError?
        /// Seconds into the source where reading stopped early.
        public var stoppedAt: Double?
        /// Why no clip came out at all, in words for a person; nil when there are clips.
        public var noClipReason: String?
        /// Other things worth knowing, e.g. the length of a tail too short for a clip.
        public var notes: [String]
        /// Source times (seconds, the first frame after it) of the hard cuts found.
        public var cuts: [Double]
        /// Clips shorter than the configured frame count, made because the source is too short
        /// for a full one (`short_min_frames`); see `notes`.
        public var shortClips: Int
        /// Seconds spent on curation (thumbnails, scores, cut detection, hashes): its cost.
        public var curationSeconds: Double
        /// The most pixel bytes the reader held at once (open clip windows plus clips
        /// waiting to be pulled): bounded by the clip size, not by the file's length.
        public var peakBufferedBytes: Int

        public var totalClips: Int { clips.values.reduce(0, +) }
    }

    private let file: MediaFile
    private let decoder: VideoDecoder
    private let logger: Logger
    private var sampler: NearestFrameSampler
    private var pipelines: [Pipeline]
    private var ready: [Clip] = []
    private var readyHead = 0
    private var held: UnsafeMutablePointer<AVFrame>
    private var heldTimestamp: Int64 = 0
    private var hasHeld = false
    private var lastInterval: Int64?
    private var sampled = 0
    private var finished = false
    private var peakBufferedBytes = 0
    /// Curation: the thumbnail scaler, each recent slot's analysis and its difference to the
    /// slot before, the cut detector and the cuts found (slot, source time).
    private let analysisScaler: FrameScaler
    private var thumbnail = [UInt8](repeating: 0, count: FrameAnalysis.side * FrameAnalysis.side * 3)
    private var analyses: [Int: (frame: FrameAnalysis, difference: Float)] = [:]
    private var lastAnalysedSlot = -1
    private var shotDetector = ShotBoundaryDetector()
    private var cuts: [(slot: Int, time: Double)] = []
    private var curationSeconds = 0.0

    /// Opens `path` and plans its buckets.
    ///
    /// - Throws: `VideoIOError` when the file cannot be opened at all or the
    ///   configuration is invalid. Damage found while reading is reported in `outcome`.
    public init(
        path: String, configuration: ClipConfiguration = ClipConfiguration(),
        limits: VideoIOLimits = VideoIOLimits(), logger: Logger
    ) throws {
        try configuration.validate()
        self.configuration = configuration
        self.logger = logger
        file = try MediaFile(path: path, limits: limits)
        decoder = try VideoDecoder(
            file: file, threads: configuration.decoderThreads,
            strict: configuration.stopOnDamage)
        let info = file.info
        let detectionStart = DispatchTime.now()
        var crop = configuration.cropBorders ? BorderDetector.detect(path: path, limits: limits, logger: logger) : nil
        curationSeconds = Self.seconds(since: detectionStart)
        var plan = configuration.buckets.buckets(width: crop?.width ?? info.width, height: crop?.height ?? info.height)
        if crop != nil, plan.fitting.isEmpty {
            // Cropping made the picture too small for every bucket: keep the bars, not lose the source.
            crop = nil
            plan = configuration.buckets.buckets(width: info.width, height: info.height)
        }
        self.crop = crop
        buckets = plan.fitting
        skippedBuckets = plan.skipped
        let frames = info.isStillImage ? 1 : configuration.frames
        framesPerClip = frames
        let stride = info.isStillImage ? 1 : (configuration.stride ?? configuration.frames)
        let maxClips = info.isStillImage ? 1 : configuration.maxClips
        pipelines = plan.fitting.map {
            Pipeline(
                scaler: FrameScaler(bucket: $0, rotation: info.rotation, region: crop), frames: frames,
                stride: stride, maxClips: maxClips)
        }
        analysisScaler = FrameScaler(
            bucket: Bucket(size: FrameAnalysis.side, aspect: AspectRatio(1, 1)), rotation: info.rotation, region: crop)
        sampler = NearestFrameSampler(timeBase: file.timeBase, fps: configuration.fpsRational)
        guard let frame = av_frame_alloc() else { throw VideoIOError(.io, "out of memory", file: path) }
        held = frame
        for skip in plan.skipped {
            logger.debug(
                "bucket skipped", metadata: ["file": "\(path)", "bucket": "\(skip.bucket)", "reason": "\(skip.reason)"])
        }
    }

    deinit {
        var frame: UnsafeMutablePointer<AVFrame>? = held
        av_frame_free(&frame)
    }

    /// The next complete clip, or nil when the source is exhausted (then see `outcome`).
    public func next() throws -> Clip? {
        while readyHead == ready.count {
            ready.removeAll(keepingCapacity: true)
            readyHead = 0
            if finished { return nil }
            try step()
            trackBufferedBytes()
        }
        defer { readyHead += 1 }
        return ready[readyHead]
    }

    /// Reads every clip (convenient for small files and tests; streams hold less memory).
    public func readAll() throws -> [Clip] {
        var clips: [Clip] = []
        while let clip = try next() { clips.append(clip) }
        return clips
    }

    private func trackBufferedBytes() {
        let open = pipelines.reduce(0) { $0 + $1.windows.reduce(0) { $0 + $1.pixels.count } }
        let waiting = ready[readyHead...].reduce(0) { $0 + $1.pixels.count }
        peakBufferedBytes = max(peakBufferedBytes, open + waiting)
    }

    // MARK: - Decoding loop

    /// Decodes one picture and hands its decided target slots to the pipelines. Any
    /// damage ends the read in `outcome`, keeping the clips completed before it.
    private func step() throws {
        if pipelines.isEmpty || pipelines.allSatisfy(\.isDone) {
            finish(damage: nil, note: pipelines.isEmpty ? nil : "stopped after max_clips clips per bucket")
            return
        }
        do {
            guard let frame = try decoder.next() else {
                try endOfStream()
                return
            }
            try take(frame)
        } catch let error as VideoIOError {
            finish(damage: error, note: nil)
        }
    }

    private func take(_ frame: UnsafeMutablePointer<AVFrame>) throws {
        let pts = timestamp(of: frame)
        guard sampler.accepts(pts) else {
            logger.debug(
                "dropped a picture whose time does not advance", metadata: ["file": "\(file.path)", "pts": "\(pts)"])
            return
        }
        for selection in sampler.push(pts) {
            switch selection.choice {
            case .previous: try deliver(slot: selection.index, picture: held, pts: heldTimestamp)
            case .current: try deliver(slot: selection.index, picture: frame, pts: pts)
            }
        }
        if hasHeld { lastInterval = pts - heldTimestamp }
        av_frame_unref(held)
        av_frame_move_ref(held, frame)
        heldTimestamp = pts
        hasHeld = true
    }

    /// A presentation time for every picture, even when the file gives none.
    private func timestamp(of frame: UnsafeMutablePointer<AVFrame>) -> Int64 {
        let best = frame.pointee.best_effort_timestamp
        if best != FFmpeg.noPTS { return best }
        guard hasHeld else { return 0 }
        let duration = cffmpeg_frame_duration(frame)
        if duration > 0 { return heldTimestamp + duration }
        if let lastInterval, lastInterval > 0 { return heldTimestamp + lastInterval }
        if let rate = Rational(file.stream.pointee.avg_frame_rate) ?? Rational(file.stream.pointee.r_frame_rate) {
            let tb = file.timeBase
            return heldTimestamp + max(1, Int64((1 / (rate.doubleValue * tb.doubleValue)).rounded()))
        }
        return heldTimestamp + 1
    }

    private func endOfStream() throws {
        if hasHeld {
            let duration = cffmpeg_frame_duration(held)
            for slot in sampler.finish(lastFrameDuration: duration > 0 ? duration : nil) {
                try deliver(slot: slot, picture: held, pts: heldTimestamp)
            }
        }
        // The truncation message already says where the file ends.
        finish(damage: truncationCheck(), note: nil, located: true)
    }

    /// A file that ends well before the duration its header states was cut off.
    private func truncationCheck() -> VideoIOError? {
        guard hasHeld, !file.info.isStillImage, let duration = file.info.duration else { return nil }
        let tb = file.timeBase.doubleValue
        let start = Double(file.stream.pointee.start_time == FFmpeg.noPTS ? 0 : file.stream.pointee.start_time) * tb
        let interval = Double(lastInterval ?? 0) * tb
        let reached = Double(heldTimestamp) * tb + interval - start
        guard duration - reached > max(0.5, 3 * interval) else { return nil }
        return VideoIOError(
            .truncated,
            String(
                format:
                    "the file ends at %.2f s but its header says %.2f s: it was cut off (an interrupted copy or download?)",
                reached, duration), file: file.path)
    }

    /// - Parameter located: the damage message already says where reading stopped.
    private func finish(damage: VideoIOError?, note: String?, located: Bool = false) {
        guard !finished else { return }
        finished = true
        var notes: [String] = []
        if let note { notes.append(note) }
        var damage = damage
        var stoppedAt: Double? = nil
        if var error = damage {
            let tb = file.timeBase.doubleValue
            let at = hasHeld ? Double(heldTimestamp) * tb : (decoder.lastPacketTime ?? 0)
            stoppedAt = at
            if !located {
                error.message += String(format: " (reading stopped at %.2f s)", at)
            }
            damage = error
            logger.warning("stopped reading early", metadata: ["file": "\(file.path)", "error": "\(error)"])
        }
        let incomplete = pipelines.filter { $0.emitted > 0 }.map(\.openFrames).max() ?? 0
        var shortClips = 0
        if let minimum = configuration.shortMinFrames, framesPerClip > 1 {
            for i in pipelines.indices where pipelines[i].emitted == 0 {
                guard
                    let (short, firstSlot) = pipelines[i].shortClip(
                        minimum: minimum, source: file.path, fps: configuration.fps)
                else { continue }
                var clip = short
                clip.quality = quality(from: firstSlot, count: clip.frameCount)
                ready.append(clip)
                shortClips += 1
                notes.append(
                    String(
                        format: "too short for a %d-frame clip in %@: made one %d-frame clip (%.2f s) instead",
                        framesPerClip, pipelines[i].scaler.bucket.slug, clip.frameCount, clip.duration))
            }
        }
        if incomplete > 0 && damage == nil {
            notes.append(
                String(
                    format: "a tail of %d frame(s) (%.2f s) is shorter than a %d-frame clip and was dropped",
                    incomplete, Double(incomplete) / configuration.fps, framesPerClip))
        }
        var clips: [Bucket: Int] = [:]
        for p in pipelines { clips[p.scaler.bucket] = p.emitted }
        let total = clips.values.reduce(0, +)
        var reason: String? = nil
        if total == 0 {
            if pipelines.isEmpty {
                reason = "no bucket fits: " + skippedBuckets.map(\.description).joined(separator: "; ")
            } else if let damage {
                reason = "no complete clip before the damage: \(damage.message)"
            } else {
                let seconds = Double(sampled) / configuration.fps
                reason = String(
                    format: "too short: %.2f s gives %d frame(s) at %g fps; a clip needs %d",
                    seconds, sampled, configuration.fps, framesPerClip)
            }
        }
        trackBufferedBytes()
        for i in pipelines.indices { pipelines[i].windows.removeAll() }
        outcome = Outcome(
            clips: clips, decodedFrames: decoder.framesDecoded, sampledFrames: sampled,
            damage: damage, stoppedAt: stoppedAt, noClipReason: reason, notes: notes,
            cuts: cuts.map(\.time), shortClips: shortClips, curationSeconds: curationSeconds,
            peakBufferedBytes: peakBufferedBytes)
    }

    // MARK: - Clip windows

    /// Puts the picture chosen for target slot `slot` into every open window that wants it.
    private func deliver(slot: Int, picture: UnsafeMutablePointer<AVFrame>, pts: Int64) throws {
        sampled = max(sampled, slot + 1)
        let targetTime = sampler.targetTime(slot)
        let frameTime = Double(pts) * file.timeBase.doubleValue
        if try analyse(slot: slot, picture: picture, time: frameTime), configuration.splitAtCuts {
            // A new shot: no clip may hold frames from both sides, so the open windows go and
            // the clip grid restarts at the cut.
            for i in pipelines.indices { pipelines[i].restart(at: slot) }
        }
        for i in pipelines.indices {
            if let (completed, firstSlot) = try pipelines[i].accept(
                slot: slot, picture: picture, targetTime: targetTime,
                frameTime: frameTime, source: file.path, fps: configuration.fps)
            {
                var clip = completed
                clip.quality = quality(from: firstSlot, count: clip.frameCount)
                ready.append(clip)
            }
        }
        let oldest = pipelines.compactMap { $0.windows.first?.firstSlot }.min() ?? slot
        for old in analyses.keys where old < min(oldest, slot) { analyses[old] = nil }
    }

    private static func seconds(since start: DispatchTime) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
    }

    /// Analyses the picture of a new slot; true when it starts a new shot.
    private func analyse(slot: Int, picture: UnsafeMutablePointer<AVFrame>, time: Double) throws -> Bool {
        guard slot > lastAnalysedSlot else { return false }
        let start = DispatchTime.now()
        defer { curationSeconds += Self.seconds(since: start) }
        try thumbnail.withUnsafeMutableBufferPointer { try analysisScaler.convert(picture, into: $0.baseAddress!) }
        let frame = thumbnail.withUnsafeBufferPointer { FrameAnalysis(rgb: $0) }
        let previous = analyses[lastAnalysedSlot]?.frame
        lastAnalysedSlot = slot
        guard let previous else {
            analyses[slot] = (frame, 0)
            return false
        }
        let difference = frame.difference(to: previous)
        analyses[slot] = (frame, difference)
        guard shotDetector.isCut(frame, after: previous, difference: difference) else { return false }
        cuts.append((slot, time))
        logger.debug("cut", metadata: ["file": "\(file.path)", "at": "\(time)"])
        return true
    }

    /// The curation scores of the clip of `count` slots from `firstSlot`.
    private func quality(from firstSlot: Int, count: Int) -> ClipQuality? {
        let start = DispatchTime.now()
        defer { curationSeconds += Self.seconds(since: start) }
        let slots = firstSlot..<(firstSlot + count)
        let frames = slots.compactMap { analyses[$0] }
        guard frames.count == count else { return nil }
        return ClipQuality(
            frames: frames.map(\.frame), differences: frames.map(\.difference),
            spansCut: cuts.contains { slots.contains($0.slot) && $0.slot > firstSlot })
    }
}

/// One bucket's scaler and its open clip windows.
private struct Pipeline {
    let scaler: FrameScaler
    let frames: Int
    let stride: Int
    let maxClips: Int?
    var windows: [Window] = []
    var started = 0
    var emitted = 0
    /// The slot the clip grid starts from: 0, or the latest cut.
    var origin = 0

    struct Window {
        var index: Int
        var firstSlot: Int
        var pixels: [UInt8]
        var targetTimes: [Double] = []
        var frameTimes: [Double] = []
    }

    init(scaler: FrameScaler, frames: Int, stride: Int, maxClips: Int?) {
        self.scaler = scaler
        self.frames = frames
        self.stride = stride
        self.maxClips = maxClips
    }

    /// True once every allowed clip has been cut.
    var isDone: Bool { windows.isEmpty && maxClips.map { started >= $0 } == true }

    /// Frames held by the most advanced open window.
    var openFrames: Int { windows.map(\.targetTimes.count).max() ?? 0 }

    /// The longest 1 + 4k-frame prefix (at least `minimum` frames) of the fullest open window,
    /// for a source too short for a full clip; counts as emitted.
    mutating func shortClip(minimum: Int, source: String, fps: Double) -> (Clip, Int)? {
        guard let window = windows.max(by: { $0.targetTimes.count < $1.targetTimes.count }) else { return nil }
        let count = (window.targetTimes.count - 1) / 4 * 4 + 1
        guard count >= minimum, count < frames else { return nil }
        emitted += 1
        let clip = Clip(
            source: source, bucket: scaler.bucket, index: window.index, fps: fps,
            pixels: Array(window.pixels[0..<(count * scaler.frameBytes)]),
            targetTimes: Array(window.targetTimes[0..<count]), frameTimes: Array(window.frameTimes[0..<count]))
        return (clip, window.firstSlot)
    }

    /// Drops the open windows (they hold frames before a cut) and starts the grid at `slot`.
    mutating func restart(at slot: Int) {
        started -= windows.count
        windows.removeAll()
        origin = slot
    }

    /// Takes the picture of `slot`; returns a completed clip with the slot of its first frame.
    mutating func accept(
        slot: Int, picture: UnsafeMutablePointer<AVFrame>, targetTime: Double,
        frameTime: Double, source: String, fps: Double
    ) throws -> (Clip, Int)? {
        if (slot - origin) % stride == 0, maxClips.map({ started < $0 }) ?? true {
            windows.append(
                Window(
                    index: started, firstSlot: slot,
                    pixels: [UInt8](repeating: 0, count: frames * scaler.frameBytes)))
            started += 1
        }
        guard !windows.isEmpty else { return nil }
        let bytes = scaler.frameBytes
        var firstCopy: Int? = nil
        for w in windows.indices {
            let t = windows[w].targetTimes.count
            if let first = firstCopy {
                let from = windows[first].targetTimes.count - 1
                windows[first].pixels.withUnsafeBufferPointer { src in
                    windows[w].pixels.withUnsafeMutableBufferPointer { dst in
                        (dst.baseAddress! + t * bytes).update(from: src.baseAddress! + from * bytes, count: bytes)
                    }
                }
            } else {
                try windows[w].pixels.withUnsafeMutableBufferPointer { dst in
                    try scaler.convert(picture, into: dst.baseAddress! + t * bytes)
                }
                firstCopy = w
            }
            windows[w].targetTimes.append(targetTime)
            windows[w].frameTimes.append(frameTime)
        }
        guard windows[0].targetTimes.count == frames else { return nil }
        let done = windows.removeFirst()
        emitted += 1
        let clip = Clip(
            source: source, bucket: scaler.bucket, index: done.index, fps: fps, pixels: done.pixels,
            targetTimes: done.targetTimes, frameTimes: done.frameTimes)
        return (clip, done.firstSlot)
    }
}
