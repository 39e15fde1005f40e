import Foundation

/// Captions found next to a video: `NAME.txt`, `NAME.json` with "caption" or "captions", or
/// a `captions.jsonl` manifest in the folder (one {"file": "NAME.mp4", "caption": "…"} per line).
enum Captions {
    /// Files that carry captions, never media.
    static func isCaptionFile(_ path: String) -> Bool {
        let url = URL(fileURLWithPath: path)
        return ["txt", "json", "jsonl"].contains(url.pathExtension.lowercased())
    }

    /// (caption, origin) pairs for the video at `path`.
    static func find(for path: String) -> [(text: String, origin: String)] {
        let url = URL(fileURLWithPath: path)
        let stem = url.deletingPathExtension()
        var result: [(String, String)] = []
        if let text = try? String(contentsOf: stem.appendingPathExtension("txt"), encoding: .utf8) {
            let caption = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if !caption.isEmpty { result.append((caption, "sidecar:\(stem.lastPathComponent).txt")) }
        }
        if let data = try? Data(contentsOf: stem.appendingPathExtension("json")),
           let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
            var texts: [String] = []
            if let one = object["caption"] as? String { texts.append(one) }
            if let many = object["captions"] as? [String] { texts += many }
            for text in texts where !text.isEmpty { result.append((text, "sidecar:\(stem.lastPathComponent).json")) }
        }
        let manifest = url.deletingLastPathComponent().appendingPathComponent("captions.jsonl")
        if let text = try? String(contentsOf: manifest, encoding: .utf8) {
            for line in text.split(whereSeparator: \.isNewline) {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      let file = (object["file"] ?? object["path"]) as? String,
                      file == url.lastPathComponent || file == path else { continue }
                var texts: [String] = []
                if let one = object["caption"] as? String { texts.append(one) }
                if let many = object["captions"] as? [String] { texts += many }
                for text in texts where !text.isEmpty { result.append((text, "manifest:captions.jsonl")) }
            }
        }
        return result
    }
}
