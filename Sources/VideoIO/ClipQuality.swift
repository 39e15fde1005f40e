/// Curation scores of one clip, from its frames' analyses.
public struct ClipQuality: Sendable, Equatable, Codable {
    /// Mean absolute grey difference between consecutive frames (0–255): 0 for a frozen clip.
    public var motion: Double
    /// Share of black (or any single-colour) frames (0–1).
    public var blackFraction: Double
    /// Mean thumbnail detail (grey levels between neighbours): low for blurred or empty clips.
    public var detail: Double
    /// Perceptual hash of the middle frame: near-duplicates are a few bits apart.
    public var hash: UInt64
    /// False when the clip spans a detected cut (only when clips are not split at cuts).
    public var singleShot: Bool

    public init(motion: Double, blackFraction: Double, detail: Double, hash: UInt64, singleShot: Bool) {
        self.motion = motion
        self.blackFraction = blackFraction
        self.detail = detail
        self.hash = hash
        self.singleShot = singleShot
    }

    /// Scores frames `frames` (in order) whose differences to their predecessors are `differences`
    /// (the first entry is ignored: the frame before the clip is not in it).
    public init(frames: [FrameAnalysis], differences: [Float], spansCut: Bool) {
        let n = frames.count
        motion = n > 1 ? Double(differences.dropFirst().reduce(0, +)) / Double(n - 1) : 0
        blackFraction = Double(frames.filter(\.isBlack).count) / Double(max(1, n))
        detail = Double(frames.reduce(0) { $0 + $1.detail }) / Double(max(1, n))
        hash = frames.isEmpty ? 0 : frames[n / 2].perceptualHash
        singleShot = !spansCut
    }
}
