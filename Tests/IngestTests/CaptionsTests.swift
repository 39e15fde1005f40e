import Foundation
import Testing
@testable import Ingest
#if canImport(Glibc)
import Glibc
#endif

/// Caption sidecars are read on every rescan, next to every video: odd files there must
/// neither block the scan nor cost memory each time.
@Suite("Caption sidecars")
struct CaptionsTests {
    static func folder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("captions-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func residentBytes() throws -> Int {
        let fields = try String(contentsOfFile: "/proc/self/statm", encoding: .utf8).split(separator: " ")
        return (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    @Test("all three sidecars are read", .timeLimit(.minutes(1)))
    func allThree() throws {
        let folder = try Self.folder()
        try "  A dog on a beach.\n".write(toFile: folder + "/clip.txt", atomically: true, encoding: .utf8)
        try #"{"caption": "one", "captions": ["two", ""]}"#.write(
            toFile: folder + "/clip.json", atomically: true, encoding: .utf8)
        try "{\"file\": \"clip.mp4\", \"caption\": \"three\"}\n{\"path\": \"other.mp4\", \"caption\": \"no\"}\n"
            .write(toFile: folder + "/captions.jsonl", atomically: true, encoding: .utf8)
        let found = Captions.find(for: folder + "/clip.mp4")
        #expect(found.map(\.text) == ["A dog on a beach.", "one", "two", "three"])
        #expect(
            found.map(\.origin) == [
                "sidecar:clip.txt", "sidecar:clip.json", "sidecar:clip.json", "manifest:captions.jsonl",
            ])
    }

    @Test("a FIFO, a folder or an empty file as a sidecar is skipped at once", .timeLimit(.minutes(1)))
    func oddFiles() throws {
        let folder = try Self.folder()
        #expect(mkfifo(folder + "/clip.txt", 0o600) == 0)
        try FileManager.default.createDirectory(atPath: folder + "/clip.json", withIntermediateDirectories: false)
        FileManager.default.createFile(atPath: folder + "/captions.jsonl", contents: Data())
        #expect(Captions.find(for: folder + "/clip.mp4").isEmpty)
    }

    @Test("empty sidecars read again and again cost no memory (Foundation leaks 4 KiB per empty file read)")
    func emptySidecarsDoNotLeak() throws {
        let folder = try Self.folder()
        for name in ["clip.txt", "clip.json", "captions.jsonl"] {
            FileManager.default.createFile(atPath: folder + "/" + name, contents: Data())
        }
        for _ in 0..<100 { _ = Captions.find(for: folder + "/clip.mp4") }
        // Leaking, each round grows by 3000 × 3 × 4 KiB = 36 MiB. Resident memory is the whole
        // process's and other suites run beside this one, so the smallest of five rounds counts:
        // their noise only adds, a leak shows in every round.
        var growth: [Int] = []
        for _ in 0..<5 {
            let before = try Self.residentBytes()
            for _ in 0..<3000 { _ = Captions.find(for: folder + "/clip.mp4") }
            growth.append(try Self.residentBytes() - before)
        }
        #expect(growth.min()! < 8 << 20, "\(growth)")
    }
}
