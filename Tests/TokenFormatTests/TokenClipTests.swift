import Tensor
import Testing
import TokenFormat

/// Tokens built from bits alone — what a sampler does — without the tokenizer's network.
@Suite("Token format")
struct TokenClipTests {
    static let identity = TokenizerIdentity(id: "0123456789abcdef", name: "test", trained: true)
    /// A 4×4 latent grid: scales 1×1, 2×2, 4×4 → 21 tokens per frame.
    static let schedule = ScaleSchedule(height: 4, width: 4, sides: [1, 2, 4, 6])

    static func clip(bits: Tensor) throws -> TokenClip {
        try TokenClip(
            tokenizer: identity, frames: 5, latentFrames: 2, latentHeight: 4, latentWidth: 4,
            schedule: schedule, bitsPerToken: 3, bits: bits)
    }

    @Test("a clip from sampled bits: per-scale and per-frame views read the right tokens")
    func fromBits() throws {
        #expect(Self.schedule.scales.map(\.tokens) == [1, 4, 16] && Self.schedule.offsets == [0, 1, 5])
        // Bit value = (frame + token) % 2 on bit 0, 1 on bit 1, 0 on bit 2.
        var values: [UInt8] = []
        for t in 0..<2 { for l in 0..<21 { values += [UInt8((t + l) % 2), 1, 0] } }
        let clip = try Self.clip(bits: Tensor(values).reshaped([2, 21, 3]))
        #expect(clip.tokenCount == 42 && clip.bitCount == 126)
        let second = try clip.bits(scale: 1)  // [T′, 4, d]
        #expect(second.shape == [2, 4, 3])
        #expect(try second.select(dim: 0, 1).select(dim: 1, 0).scalars(as: UInt8.self) == [0, 1, 0, 1])  // tokens 1…4 of frame 1
        let perFrame = try clip.bits(frame: 1, scale: 1)  // [d, 2, 2]
        #expect(perFrame.shape == [3, 2, 2])
        #expect(try perFrame.select(dim: 0, 1).scalars(as: UInt8.self) == [1, 1, 1, 1])
        let signs = try TokenClip.signs(of: clip.bits)
        #expect(try signs.select(dim: 0, 0).select(dim: 0, 0).scalars(as: Float.self) == [-1, 1, -1])
    }

    @Test("bits of the wrong shape, or a schedule that does not end at the grid, are refused")
    func refused() throws {
        #expect(throws: TorchError.self) { try Self.clip(bits: Tensor.zeros([2, 20, 3], dtype: .uint8)) }
        #expect(throws: TorchError.self) {
            try TokenClip(
                tokenizer: Self.identity, frames: 5, latentFrames: 2, latentHeight: 4, latentWidth: 4,
                schedule: ScaleSchedule(scales: [.init(height: 1, width: 1)]), bitsPerToken: 3,
                bits: Tensor.zeros([2, 1, 3], dtype: .uint8))
        }
    }
}
