import Foundation

/// BERT's uncased WordPiece tokenizer, as all-MiniLM-L6-v2 was trained with: lower-case,
/// strip accents, split on whitespace and punctuation, then greedy longest-match-first pieces
/// ("##" marks a continuation), wrapped in [CLS] … [SEP]. Matches Hugging Face's
/// `BertTokenizer(do_lower_case=True)` on the model's own `vocab.txt` (a test compares them).
public struct WordPiece: Sendable {
    public let vocabulary: [String: Int]
    public let unknown: Int
    public let start: Int
    public let end: Int

    /// Reads `vocab.txt`: one piece per line, its line number its id.
    public init(vocabularyFile path: String) throws {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw TextEncoderError(.missing, "cannot read the vocabulary \(path)")
        }
        var vocabulary: [String: Int] = [:]
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where !line.isEmpty {
            vocabulary[String(line)] = i
        }
        guard let unknown = vocabulary["[UNK]"], let start = vocabulary["[CLS]"], let end = vocabulary["[SEP]"] else {
            throw TextEncoderError(.format, "\(path) lacks [UNK], [CLS] or [SEP]: not a BERT vocabulary")
        }
        self.vocabulary = vocabulary
        self.unknown = unknown
        self.start = start
        self.end = end
    }

    /// Token ids of `text`, [CLS] first and [SEP] last, at most `maxLength` in all.
    public func ids(_ text: String, maxLength: Int = 256) -> [Int] {
        var result = [start]
        for word in Self.words(text) {
            result += pieces(word)
            if result.count >= maxLength - 1 { break }
        }
        return Array(result.prefix(maxLength - 1)) + [end]
    }

    /// Lower-cased, accent-free words and single punctuation marks.
    static func words(_ text: String) -> [String] {
        let folded = text.lowercased().decomposedStringWithCanonicalMapping
        var words: [String] = []
        var current = ""
        func flush() {
            if !current.isEmpty { words.append(current) }
            current = ""
        }
        for scalar in folded.unicodeScalars {
            let properties = scalar.properties
            if properties.generalCategory == .nonspacingMark { continue }  // accents after NFD
            if scalar.value == 0 || scalar.value == 0xFFFD
                || (properties.generalCategory == .control && !scalar.properties.isWhitespace)
            {
                continue
            }
            if properties.isWhitespace {
                flush()
            } else if isPunctuation(scalar) || isCJK(scalar) {
                flush()
                words.append(String(scalar))
            } else {
                current.unicodeScalars.append(scalar)
            }
        }
        flush()
        return words
    }

    /// BERT counts every ASCII non-alphanumeric printable character as punctuation, plus Unicode P*.
    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) {
            return true
        }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
            .finalPunctuation, .otherPunctuation:
            return true
        default: return false
        }
    }

    static func isCJK(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        return (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v) || (0x20000...0x2A6DF).contains(v)
            || (0x2A700...0x2B73F).contains(v) || (0x2B740...0x2B81F).contains(v) || (0x2B820...0x2CEAF).contains(v)
            || (0xF900...0xFAFF).contains(v) || (0x2F800...0x2FA1F).contains(v)
    }

    /// Greedy longest-match-first pieces of one word; [UNK] when some part matches nothing.
    func pieces(_ word: String) -> [Int] {
        let chars = Array(word)
        guard chars.count <= 100 else { return [unknown] }
        var result: [Int] = []
        var begin = 0
        while begin < chars.count {
            var stop = chars.count
            var found: Int? = nil
            while begin < stop {
                let piece = (begin > 0 ? "##" : "") + String(chars[begin..<stop])
                if let id = vocabulary[piece] {
                    found = id
                    break
                }
                stop -= 1
            }
            guard let id = found else { return [unknown] }
            result.append(id)
            begin = stop
        }
        return result
    }
}
