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
        if let data = contents(of: stem.appendingPathExtension("txt")), let text = String(data: data, encoding: .utf8) {
            let caption = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if !caption.isEmpty { result.append((caption, "sidecar:\(stem.lastPathComponent).txt")) }
        }
        if let data = contents(of: stem.appendingPathExtension("json")),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        {
            var texts: [String] = []
            if let one = object["caption"] as? String { texts.append(one) }
            if let many = object["captions"] as? [String] { texts += many }
            for text in texts where !text.isEmpty { result.append((text, "sidecar:\(stem.lastPathComponent).json")) }
        }
        let manifest = url.deletingLastPathComponent().appendingPathComponent("captions.jsonl")
        if let data = contents(of: manifest), let text = String(data: data, encoding: .utf8) {
            for line in text.split(whereSeparator: \.isNewline) {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                    let file = (object["file"] ?? object["path"]) as? String,
                    file == url.lastPathComponent || file == path
                else { continue }
                var texts: [String] = []
                if let one = object["caption"] as? String { texts.append(one) }
                if let many = object["captions"] as? [String] { texts += many }
                for text in texts where !text.isEmpty { result.append((text, "manifest:captions.jsonl")) }
            }
        }
        return result
    }

    /// A sidecar's bytes, or nil unless it is a non-empty regular file: a FIFO would block the
    /// scan, and Foundation on Linux leaks a 4 KiB buffer per read of an empty file (found by
    /// fuzzing) while `scan` reads every sidecar again on every rescan.
    static func contents(of url: URL) -> Data? {
        var info = stat()
        guard stat(url.path, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_size > 0 else { return nil }
        return try? Data(contentsOf: url)
    }
}
