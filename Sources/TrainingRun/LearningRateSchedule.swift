import Foundation

/// Linear warm-up from 0 to `peak`, then cosine decay to `floor` at `steps` (nanoGPT's
/// schedule): the one both trainers use per stage.
public struct LearningRateSchedule: Sendable, Equatable {
    public var peak: Double
    public var warmupSteps: Int
    public var floor: Double
    public var steps: Int

    public init(peak: Double, warmupSteps: Int, floor: Double, steps: Int) {
        self.peak = peak
        self.warmupSteps = warmupSteps
        self.floor = floor
        self.steps = steps
    }

    /// The rate at `step` (0-based) of the stage.
    public func rate(at step: Int) -> Double {
        if step < warmupSteps { return peak * Double(step + 1) / Double(warmupSteps) }
        let span = max(1, steps - warmupSteps)
        let progress = min(1, Double(step - warmupSteps) / Double(span))
        return floor + (peak - floor) * 0.5 * (1 + cos(Double.pi * progress))
    }
}
