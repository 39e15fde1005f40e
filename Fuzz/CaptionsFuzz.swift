// libFuzzer target: the caption sidecars (Sources/Ingest/Captions.swift). The input is split
// at NUL bytes into NAME.txt, NAME.json and the folder's captions.jsonl (a part left out
// removes that file), then the captions of NAME.mp4 are read. Built by Scripts/fuzz.
import Foundation

let folder: URL = {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("videoar-fuzz-captions-\(getpid())")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}()
let video = folder.appendingPathComponent("clip.mp4").path
let files = ["clip.txt", "clip.json", "captions.jsonl"].map { folder.appendingPathComponent($0).path }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let parts = UnsafeBufferPointer(start: data, count: size).split(
        separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
    for (index, path) in files.enumerated() {
        if index < parts.count {
            // Plain POSIX: Foundation's createFile writes atomically, several times slower per input.
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            let part = UnsafeBufferPointer(rebasing: parts[index])
            precondition(
                fd >= 0 && write(fd, part.baseAddress, part.count) == part.count && close(fd) == 0,
                "cannot write \(path)")
        } else {
            unlink(path)
        }
    }
    for caption in Captions.find(for: video) {
        precondition(!caption.text.isEmpty, "an empty caption from \(caption.origin)")
    }
    // Any name (the input as a path) is answered, never a trap.
    _ = Captions.isCaptionFile(String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self))
    return 0
}
