/// A small, seedable random-number generator (SplitMix64) whose whole state is one
/// number, so a checkpoint can store it and a resumed run draws the same batches.
public struct SplitMix64: RandomNumberGenerator, Sendable, Codable, Equatable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A generator for one named purpose of one epoch, independent of how many numbers any
    /// other purpose drew: (seed, epoch) → the epoch's order, whatever happened before.
    public static func derived(seed: UInt64, _ parts: UInt64...) -> SplitMix64 {
        var g = SplitMix64(seed: seed)
        for part in parts { g = SplitMix64(seed: g.next() ^ part) }
        return g
    }

    /// Uniform in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }
}
