/// Picks, for each target time of a fixed-rate grid, the source frame whose
/// presentation time is nearest — the core of frame-exact resampling.
///
/// It is fed frames in presentation order and never looks ahead more than one frame,
/// so a decoder can stream through a file holding only two frames. All arithmetic is
/// exact: times are integers in a unit fine enough for both the stream's time base and
/// the target frame rate, so a tie (a target exactly between two frames) is a tie and
/// resolves, always, to the earlier frame.
public struct NearestFrameSampler: Sendable {
    /// Which frame a target time takes.
    public enum Choice: Sendable, Equatable {
        /// The frame pushed before the current one.
        case previous
        /// The frame just pushed.
        case current
    }

    /// A target slot and the frame it takes.
    public struct Selection: Sendable, Equatable {
        /// Index of the target time: `start + index / fps`.
        public var index: Int
        public var choice: Choice
    }

    private let timeBase: Rational
    private let fps: Rational
    /// Ticks per second = timeBase.denominator × fps.numerator.
    private var start: Int64?
    private var previousTicks: Int128?
    private var lastInterval: Int128?
    private var nextTarget = 0

    /// - Parameters:
    ///   - timeBase: the unit of the timestamps that will be pushed (the stream's time base).
    ///   - fps: the target frame rate.
    public init(timeBase: Rational, fps: Rational) {
        precondition(timeBase.numerator > 0 && fps.numerator > 0, "time base and fps must be positive")
        self.timeBase = timeBase
        self.fps = fps
    }

    /// The time of target `index`, in seconds from the stream's zero.
    public func targetTime(_ index: Int) -> Double {
        let origin = Double(start ?? 0) * timeBase.doubleValue
        return origin + Double(index) * Double(fps.denominator) / Double(fps.numerator)
    }

    // Exact ticks: pts × tb.num × fps.num on a timeline where one second is tb.den × fps.num.
    private func ticks(ofTimestamp pts: Int64) -> Int128 {
        Int128(pts - (start ?? 0)) * Int128(timeBase.numerator) * Int128(fps.numerator)
    }

    private func ticks(ofTarget index: Int) -> Int128 {
        Int128(index) * Int128(fps.denominator) * Int128(timeBase.denominator)
    }

    /// Whether a frame at `pts` would be accepted (its time is after the previous frame's).
    public func accepts(_ pts: Int64) -> Bool {
        guard start != nil, let previousTicks else { return true }
        return ticks(ofTimestamp: pts) > previousTicks
    }

    /// Pushes the next frame in presentation order and returns the target slots that are
    /// now decided. Frames whose time does not advance are ignored (empty result).
    public mutating func push(_ pts: Int64) -> [Selection] {
        if start == nil { start = pts }
        let current = ticks(ofTimestamp: pts)
        guard let previous = previousTicks else {
            previousTicks = current
            return []
        }
        guard current > previous else { return [] }
        var result: [Selection] = []
        while true {
            let target = ticks(ofTarget: nextTarget)
            guard target <= current else { break }
            // Ties go to the earlier frame.
            let choice: Choice = (target - previous) <= (current - target) ? .previous : .current
            result.append(Selection(index: nextTarget, choice: choice))
            nextTarget += 1
        }
        lastInterval = current - previous
        previousTicks = current
        return result
    }

    /// Call once after the last frame: returns the target indices that fall within the
    /// last frame's display time (its duration estimated from the interval before it, or
    /// `lastFrameDuration` in stream units when given); they all take that last frame.
    public mutating func finish(lastFrameDuration: Int64? = nil) -> [Int] {
        guard let previous = previousTicks else { return [] }
        let duration: Int128
        if let lastFrameDuration, lastFrameDuration > 0 {
            duration = Int128(lastFrameDuration) * Int128(timeBase.numerator) * Int128(fps.numerator)
        } else if let lastInterval {
            duration = lastInterval
        } else {
            // A single frame (a still image): it covers exactly its own slot.
            duration = 1
        }
        var result: [Int] = []
        while ticks(ofTarget: nextTarget) < previous + duration {
            result.append(nextTarget)
            nextTarget += 1
        }
        previousTicks = nil
        return result
    }
}
