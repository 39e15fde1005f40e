import Foundation
import Tensor
import Testing
import TestSupport
@testable import TextEncoder

@Suite("all-MiniLM-L6-v2 on the tensor engine")
struct MiniLMTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let folder = root.appendingPathComponent(MiniLM.defaultFolder).path
    static let fetched = FileManager.default.fileExists(atPath: folder + "/model.safetensors")
    static let reference =
        fetched && pythonCanImport("numpy") && pythonCanImport("tokenizers")
        && pythonCanImport("safetensors")

    static let sentences = [
        "a red square moves left on a navy background",
        "A crimson box travels to the LEFT, over dark blue!",
        "Crème brûlée x2 — naïve café’s “quotes” (parens) [brackets] #hash 3.14",
        "supercalifragilisticexpialidocious antidisestablishmentarianism",
        "waves crash on a rocky beach at sunset 🌅",
    ]

    @Test(
        "token ids and sentence vectors match Hugging Face's tokenizer and a NumPy BERT on the same weights",
        .enabled(
            if: reference, "needs `bash Scripts/fetch-text-encoder` and python3 with numpy, safetensors, tokenizers"))
    func matchesReference() throws {
        let model = try MiniLM(folder: Self.folder)
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("minilm-\(UUID().uuidString).json")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments =
            ["python3", Self.root.appendingPathComponent("Scripts/reference/minilm_reference.py").path, Self.folder]
            + Self.sentences
        p.standardOutput = try FileHandle(forWritingTo: out)
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let result = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out)) as? [String: Any])
        let ids = try #require(result["ids"] as? [[Int]])
        let vectors = try #require(result["vectors"] as? [[Double]])
        for (i, sentence) in Self.sentences.enumerated() {
            #expect(model.tokenizer.ids(sentence) == ids[i], "\(sentence)")
        }
        let ours: [Float] = try model.embed(Self.sentences).scalars()
        let theirs = vectors.flatMap { $0.map(Float.init) }
        let worst = zip(ours, theirs).map { abs($0 - $1) }.max() ?? 1
        #expect(worst < 1e-4, "largest difference \(worst)")
    }

    @Test(
        "sentences that mean alike are closer than sentences that do not",
        .enabled(if: fetched, "needs `bash Scripts/fetch-text-encoder`"))
    func semantics() throws {
        let model = try MiniLM(folder: Self.folder)
        let v = try model.embed(Self.sentences)
        let similarity = try v.matmul(v.transposed(0, 1))
        func cos(_ a: Int, _ b: Int) throws -> Double { try similarity.select(dim: 0, a).select(dim: 0, b).item() }
        #expect(try cos(0, 1) > cos(0, 4) + 0.1)  // measured: 0.38 vs 0.19
        #expect(try abs(cos(2, 2) - 1) < 1e-5)
    }

    @Test("a missing model folder says how to fetch it")
    func missing() throws {
        let error = try #require(throws: TextEncoderError.self) { try MiniLM(folder: "/nonexistent") }
        #expect(error.message.contains("Scripts/fetch-text-encoder"))
    }
}
