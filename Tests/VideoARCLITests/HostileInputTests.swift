import Foundation
import Testing

/// `videoar inspect` and configuration files facing damaged or hostile bytes: a message and
/// an exit code, never a trap, and never a damaged shard shown as if it were fine.
@Suite("videoar on hostile input")
struct HostileInputTests {
    /// A data folder with one sealed shard, made by `videoar ingest`; returns it and the shard's path.
    static func ingested(_ name: String) throws -> (data: String, shard: String) {
        let data = CLITests.work.appendingPathComponent(name).path
        let config = CLITests.work.appendingPathComponent(name + ".yaml").path
        try "video:\n  clips:\n    buckets:\n      sizes: [128]\n".write(
            toFile: config, atomically: true, encoding: .utf8)
        let ingest = try CLITests.videoar("ingest", CLITests.sample, "--config", config, "--data", data)
        #expect(ingest.status == 0, "\(ingest.stderr)")
        let paths = try CLITests.videoar("query", "--data", data, "--format", "paths")
        let shard = try #require(paths.stdout.split(separator: "\n").first.map(String.init))
        return (data, shard)
    }

    @Test(
        "inspect checks the shard's SHA-256 against the catalog: matches, MISMATCH (exit 1), or says it was not checked"
    )
    func inspectChecksHash() throws {
        let (data, shard) = try Self.ingested("inspect-data")
        let fine = try CLITests.videoar("inspect", shard)
        #expect(fine.status == 0, "\(fine.stderr)")
        #expect(fine.stdout.contains("sha256: matches the catalog"), "\(fine.stdout)")
        #expect(fine.stdout.contains("row    0  clip"))

        // A copy outside any data folder cannot be checked, and says so.
        let elsewhere = CLITests.work.appendingPathComponent("inspect-elsewhere.safetensors").path
        try? FileManager.default.removeItem(atPath: elsewhere)
        try FileManager.default.copyItem(atPath: shard, toPath: elsewhere)
        let unchecked = try CLITests.videoar("inspect", elsewhere)
        #expect(unchecked.status == 0, "\(unchecked.stderr)")
        #expect(
            unchecked.stdout.contains("sha256: not checked (no catalog found for this shard)"), "\(unchecked.stdout)")

        // One flipped bit in the token bytes still parses, so only the hash can tell.
        let expected = try Self.sha256(of: shard)
        let handle = try #require(FileHandle(forUpdatingAtPath: shard))
        let end = try handle.seekToEnd()
        try handle.seek(toOffset: end - 1)
        let last = try #require(try handle.read(upToCount: 1)?.first)
        try handle.seek(toOffset: end - 1)
        try handle.write(contentsOf: [last ^ 0x01])
        try handle.close()
        let flipped = try CLITests.videoar("inspect", shard, "--data", data)
        #expect(flipped.status == 1)
        #expect(
            flipped.stdout.contains("sha256 MISMATCH: catalog says \(expected), file is \(try Self.sha256(of: shard))"),
            "\(flipped.stdout)")
        #expect(flipped.stdout.contains("bucket 128-"), "the layout is still shown")
        #expect(try CLITests.videoar("verify", "--data", data).status == 1)
    }

    static func sha256(of path: String) throws -> String {
        let result = try CLITests.run("/usr/bin/env", ["sha256sum", path])
        return String(result.stdout.prefix(64))
    }

    @Test("inspect of a safetensors header whose shape overflows is an error message, not SIGILL")
    func inspectOverflowingShape() throws {
        let header = Array(
            #"{"bits":{"dtype":"U8","shape":[4611686018427387904,4611686018427387904],"data_offsets":[0,0]}}"#.utf8)
        let path = CLITests.work.appendingPathComponent("overflow.safetensors").path
        try Data(withUnsafeBytes(of: UInt64(header.count).littleEndian, Array.init) + header).write(
            to: URL(fileURLWithPath: path))
        let result = try CLITests.videoar("inspect", path)
        #expect(result.status == 1)
        #expect(
            result.stderr.contains(
                "tensor 'bits' declares shape [4611686018427387904, 4611686018427387904] whose byte size overflows"),
            "\(result.stderr)")
    }

    @Test("a configuration with a list or mapping as a key is refused with exit 64, not a trap in the YAML reader")
    func complexYAMLKey() throws {
        let config = CLITests.work.appendingPathComponent("complex-key.yaml").path
        // What the configuration fuzzer found: `? …` makes a mapping the key.
        try "video: !!str\n? clidAes: !!str lips:c3}\n".write(toFile: config, atomically: true, encoding: .utf8)
        let result = try CLITests.videoar("clips", CLITests.sample, "--config", config)
        #expect(result.status == 64)
        #expect(result.stderr.contains("complex-key.yaml: line 2: a key must be a plain name"), "\(result.stderr)")
    }
}
