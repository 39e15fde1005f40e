import Foundation
import Logging
import Testing
import VideoIO

/// Test media made at test time with the ffmpeg CLI.
///
/// Pattern videos draw their frame index N as a 4×3 grid of black/white cells (bit
/// b = row·4 + column) in the central 40 % of the picture, so a test can read back
/// exactly which source frame landed in a clip, after resizing and centre-cropping.
/// A red marker in the stored top-left corner shows orientation.
enum Fixtures {
    static let directory: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("videoar-fixtures-v2")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    private static let lock = NSLock()

    static let quietLogger = Logger(label: "videoar.tests") { _ in SwiftLogNoOpLogHandler() }

    /// Runs a tool and returns its stdout; throws with stderr when it fails.
    @discardableResult
    static func run(_ tool: String, _ arguments: [String]) throws -> String {
        String(decoding: try runData(tool, arguments), as: UTF8.self)
    }

    /// Runs a tool and returns its raw stdout. Output goes through temporary files,
    /// not pipes: Foundation's pipe reads trap on EINTR when tests run in parallel.
    static func runData(_ tool: String, _ arguments: [String]) throws -> Data {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("videoar-run-\(UUID().uuidString)")
        let outURL = base.appendingPathExtension("out"), errURL = base.appendingPathExtension("err")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool] + arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let stderr = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
            throw FixtureError(message: "\(tool) \(arguments.joined(separator: " ")) failed: \(stderr)")
        }
        return try Data(contentsOf: outURL)
    }

    struct FixtureError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// Makes `name` once (per machine, cached in the temp folder) by running ffmpeg with
    /// `arguments` followed by the output path.
    static func make(_ name: String, _ arguments: [String]) throws -> String {
        lock.lock()
        defer { lock.unlock() }
        let path = directory.appendingPathComponent(name).path
        let stamp = path + ".args"
        let key = arguments.joined(separator: "\u{1}")
        if FileManager.default.fileExists(atPath: path), (try? String(contentsOfFile: stamp, encoding: .utf8)) == key {
            return path
        }
        let temporary = directory.appendingPathComponent("tmp-" + name).path
        try run("ffmpeg", ["-v", "error", "-nostdin", "-y"] + arguments + [temporary])
        try? FileManager.default.removeItem(atPath: path)
        try FileManager.default.moveItem(atPath: temporary, toPath: path)
        try key.write(toFile: stamp, atomically: true, encoding: .utf8)
        return path
    }

    /// Writes raw bytes to a fixture file.
    static func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let path = directory.appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
        return path
    }

    // MARK: - The index pattern

    private static let code =
        "if(gte(X,0.3*W)*lt(X,0.7*W)*gte(Y,0.3*H)*lt(Y,0.7*H),"
        + "255*mod(floor(N/pow(2,floor((Y-0.3*H)/(0.4*H/3))*4+floor((X-0.3*W)/(0.1*W)))),2),60+100*X/W)"
    private static let marker = "lt(X,0.15*W)*lt(Y,0.15*H)"

    /// ffmpeg input arguments for a pattern video (lavfi, constant `rate`).
    static func pattern(width: Int, height: Int, rate: String = "30", seconds: Double) -> [String] {
        let source =
            "color=c=black:s=\(width)x\(height):r=\(rate):d=\(seconds),format=gbrp,"
            + "geq=r='if(\(marker),255,\(code))':g='if(\(marker),0,\(code))':b='if(\(marker),0,\(code))'"
        return ["-f", "lavfi", "-i", source]
    }

    /// Reads the frame index drawn into frame `t` of `clip`, given the source's display size.
    static func index(in clip: Clip, frame t: Int, sourceWidth: Int, sourceHeight: Int) -> Int {
        let s = max(Double(clip.width) / Double(sourceWidth), Double(clip.height) / Double(sourceHeight))
        let ox = (Double(sourceWidth) * s - Double(clip.width)) / 2
        let oy = (Double(sourceHeight) * s - Double(clip.height)) / 2
        var value = 0
        for bit in 0..<12 {
            let cx = bit % 4, cy = bit / 4
            let xs = (0.3 + 0.1 * (Double(cx) + 0.5)) * Double(sourceWidth)
            let ys = (0.3 + 0.4 / 3 * (Double(cy) + 0.5)) * Double(sourceHeight)
            let x = Int(xs * s - ox), y = Int(ys * s - oy)
            if green(clip, t, x, y) > 128 { value |= 1 << bit }
        }
        return value
    }

    /// Mean green value of a 3×3 neighbourhood.
    static func green(_ clip: Clip, _ t: Int, _ x: Int, _ y: Int) -> Int {
        var sum = 0, n = 0
        for dy in -1...1 {
            for dx in -1...1 {
                let xx = min(max(x + dx, 0), clip.width - 1), yy = min(max(y + dy, 0), clip.height - 1)
                sum += Int(clip.pixels[t * clip.frameBytes + (yy * clip.width + xx) * 3 + 1])
                n += 1
            }
        }
        return sum / n
    }

    /// RGB of one pixel.
    static func rgb(_ clip: Clip, _ t: Int, _ x: Int, _ y: Int) -> (Int, Int, Int) {
        let o = t * clip.frameBytes + (y * clip.width + x) * 3
        return (Int(clip.pixels[o]), Int(clip.pixels[o + 1]), Int(clip.pixels[o + 2]))
    }

    // MARK: - Ground truth from ffprobe

    /// Presentation timestamps of every video frame in display order, and the time base.
    static func framePTS(_ path: String) throws -> (pts: [Int64], timeBase: (Int64, Int64)) {
        let tb = try run(
            "ffprobe",
            [
                "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=time_base",
                "-of", "csv=p=0", path,
            ]
        ).trimmingCharacters(in: .whitespacesAndNewlines)
        let parts = tb.split(separator: "/").compactMap { Int64($0) }
        let out = try run(
            "ffprobe",
            [
                "-v", "error", "-select_streams", "v:0", "-show_entries",
                "frame=best_effort_timestamp", "-of", "csv=p=0", path,
            ])
        // One line per frame; side data can add empty lines or trailing fields.
        let pts = out.split(whereSeparator: \.isNewline).compactMap { line in
            line.split(separator: ",").first.flatMap { Int64($0.trimmingCharacters(in: .whitespaces)) }
        }
        return (pts.sorted(), (parts[0], parts[1]))
    }

    /// The display-order index of the frame nearest to target slot `j` at `fps`
    /// (ties to the earlier frame), computed in exact integers.
    static func expectedIndex(slot j: Int, fps: Int64, pts: [Int64], timeBase: (Int64, Int64)) -> Int {
        let (num, den) = timeBase
        let target = Int64(j) * den  // j / fps seconds, scaled by den·fps
        var best = 0
        var bestDistance = Int64.max
        for (i, p) in pts.enumerated() {
            let t = (p - pts[0]) * num * fps
            let d = abs(t - target)
            if d < bestDistance {
                best = i
                bestDistance = d
            }
        }
        return best
    }
}
