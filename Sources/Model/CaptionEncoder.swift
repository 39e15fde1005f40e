import Tensor
import TextEncoder

/// The text condition, trained from scratch with the model: caption words are lower-cased,
/// hashed into `vocabulary` embedding rows and averaged, then an MLP gives the condition
/// vector. A learned `empty` vector stands for "no caption": clips without one, and the
/// 10 % of captions dropped in training so classifier-free guidance has an unconditional model.
///
/// With a pretrained sentence encoder (all-MiniLM-L6-v2) the word table is replaced by the
/// encoder's frozen 384-d sentence vector; the MLP is trained as before. The README weighs the two.
public final class CaptionEncoder: Module {
    public let embedding: Embedding?  // [vocabulary, W] (hashed words only)
    public let fc1: Linear  // W (or 384) → W
    public let fc2: Linear
    public let empty: Tensor  // [W]
    let vocabulary: Int
    let maxWords: Int
    /// The frozen pretrained encoder (not a parameter: never trained, never saved with the model).
    let _sentences: MiniLM?

    public init(vocabulary: Int, maxWords: Int, width: Int, pretrained: MiniLM? = nil, generator: Generator) throws {
        embedding = pretrained == nil ? try Embedding(vocabulary, width, generator: generator) : nil
        fc1 = try Linear(pretrained?.width ?? width, width, generator: generator)
        fc2 = try Linear(width, width, generator: generator)
        empty = try Initializer.normal([width], std: 0.02, generator: generator)
        self.vocabulary = vocabulary
        self.maxWords = maxWords
        _sentences = pretrained
    }

    /// Row ids of a caption's words (letters and digits, lower-cased; FNV-1a hashed).
    public func wordIDs(_ caption: String) -> [Int64] {
        let words = caption.lowercased().split { !($0.isLetter || $0.isNumber) }.prefix(maxWords)
        return words.map { word in
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in word.utf8 {
                hash ^= UInt64(byte)
                hash &*= 0x100_0000_01b3
            }
            return Int64(hash % UInt64(vocabulary))
        }
    }

    /// Captions (nil: unconditional) → condition vectors [B, W].
    public func callAsFunction(_ captions: [String?]) throws -> Tensor {
        let w = empty.shape[0]
        let b = captions.count
        if let sentences = _sentences {
            let has = captions.map { ($0 ?? "").contains { $0.isLetter || $0.isNumber } }
            let vectors = try sentences.embed(captions.map { $0 ?? "" })  // [B, 384]
            let encoded = try fc2(fc1(vectors).silu())
            let present = try Tensor(has.map { $0 ? UInt8(1) : 0 }, shape: [b, 1]).to(.bool).expanded(to: [b, w])
            return try empty.unsqueezed(dim: 0).expanded(to: [b, w]).replacing(where: present, with: encoded)
        }
        let ids = captions.map { $0.map(wordIDs) ?? [] }
        let longest = max(1, ids.map(\.count).max() ?? 1)
        var flat: [Int64] = [], weights: [Float] = [], has: [Bool] = []
        for row in ids {
            flat += row + Array(repeating: 0, count: longest - row.count)
            weights += row.map { _ in 1 / Float(row.count) } + Array(repeating: 0, count: longest - row.count)
            has.append(!row.isEmpty)
        }
        let words = try embedding!(Tensor(flat, shape: [b, longest]))  // [B, n, W]
        let mean = try (words * Tensor(weights, shape: [b, longest, 1])).sum(dims: [1])  // [B, W]
        let encoded = try fc2(fc1(mean).silu())
        let present = try Tensor(has.map { $0 ? UInt8(1) : 0 }, shape: [b, 1]).to(.bool).expanded(to: [b, w])
        return try empty.unsqueezed(dim: 0).expanded(to: [b, w]).replacing(where: present, with: encoded)
    }
}
