import ArgumentParser
import AtomicFiles
import Foundation
import Logging
import VideoIO
#if canImport(Glibc)
import Glibc
#endif

/// `videoar bench decode DIR`: the same job for every tool, single-threaded — each file
/// to frames at 8 fps, short side to 128, centre crop 128×128, RGB — timed in one run:
/// VideoIO, the ffmpeg CLI doing that job, and a plain ffmpeg full decode (the floor).
struct DecodeBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Decode throughput: VideoIO vs the ffmpeg CLI vs a plain full decode, single-threaded.",
        discussion: """
            Prints input-seconds decoded per wall second for each tool on every file, then totals
            and ratios. Target: VideoIO within 1.05× of the plain full decode and faster than the
            ffmpeg CLI doing the same job. Each measurement is the best of --repeat runs.
            """
    )

    @Argument(help: "A folder of videos (searched recursively) or video files.", completion: .directory)
    var paths: [String]

    @Option(help: "Target frame rate.")
    var fps: Double = 8

    @Option(help: "Output side (short side scaled to this, centre-cropped square).")
    var size: Int = 128

    @Option(name: .customLong("repeat"), help: "Runs per measurement; the fastest counts.")
    var runs: Int = 3

    @Option(help: "Path of the ffmpeg CLI to compare with.")
    var ffmpeg: String = "ffmpeg"

    @OptionGroup var global: GlobalOptions

    /// The ffmpeg CLI's fixed cost per run (process start, library loading), measured first.
    private var startup: Double = 0

    struct Row {
        var name: String
        var group = ""
        var seconds: Double
        var videoIO: Double = .infinity
        var cli: Double = .infinity
        var floor: Double = .infinity
        var frames = 0
    }

    mutating func run() throws {
        let logger = global.makeLogger("videoar.bench")
        let files = try collectFiles()  // (group = the argument it came from, path)
        guard !files.isEmpty else { throw ValidationError("no video files found in \(paths.joined(separator: ", "))") }
        print("bench decode: \(files.count) file(s), \(fps) fps, \(size)×\(size) RGB, single-threaded, best of \(runs)")
        print("FFmpeg libraries: \(ffmpegVersions.joined(separator: ", "))")
        print("ffmpeg CLI: \(try cliVersion())")
        // Warm up, then the fastest of 10 trivial runs; capped below by real runs later.
        startup =
            (0..<11).map { _ in
                (try? timeCLI(["-f", "lavfi", "-i", "color=s=16x16:d=0.04", "-f", "null", "-"])) ?? 0
            }.dropFirst().min() ?? 0
        print(String(format: "ffmpeg CLI start-up cost (included in its figures): %.0f ms per run", startup * 1000))
        print("")
        print(Self.header)

        var rows: [Row] = []
        for (group, path) in files {
            let info: MediaInfo
            do { info = try probe(path) } catch {
                print("skip \(path): \(error)")
                continue
            }
            guard !info.isStillImage, let duration = info.duration, duration > 0 else {
                print("skip \(path): not a video with a known duration")
                continue
            }
            var row = Row(name: URL(fileURLWithPath: path).lastPathComponent, group: group, seconds: duration)
            for _ in 0..<max(1, runs) {
                let (elapsed, frames) = try timeVideoIO(path, logger: logger)
                row.videoIO = min(row.videoIO, elapsed)
                row.frames = frames
                row.cli = min(row.cli, try timeCLI(cliJob(path, info: info)))
                row.floor = min(
                    row.floor, try timeCLI(["-threads", "1", "-i", path, "-an", "-sn", "-dn", "-f", "null", "-"]))
            }
            rows.append(row)
            printRow(row)
            startup = min(startup, row.floor, row.cli)  // every CLI run includes its start-up
        }
        guard !rows.isEmpty else { return }
        print(String(repeating: "-", count: 112))
        print(String(format: "ffmpeg CLI start-up estimate used below: %.0f ms per run", startup * 1000))
        let groups = rows.map(\.group).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        if groups.count > 1 {
            for group in groups { summarise(rows.filter { $0.group == group }, name: group) }
            print("")
        }
        summarise(rows, name: "ALL")
        print(String(format: "peak RSS of this process (VideoIO runs): %.1f MiB", peakResidentMiB()))
    }

    /// Prints a subtotal row, the two target checks, and the same with the CLI's start-up removed.
    private func summarise(_ rows: [Row], name: String) {
        var total = Row(name: name, seconds: rows.map(\.seconds).reduce(0, +))
        total.videoIO = rows.map(\.videoIO).reduce(0, +)
        total.cli = rows.map(\.cli).reduce(0, +)
        total.floor = rows.map(\.floor).reduce(0, +)
        total.frames = rows.map(\.frames).reduce(0, +)
        printRow(total)
        let vsFloor = total.videoIO / total.floor
        let vsCLI = total.cli / total.videoIO
        let n = Double(rows.count)
        let fairFloor = total.floor - n * startup, fairCLI = total.cli - n * startup
        let floorVerdict = vsFloor <= 1.05 ? "met" : "NOT met", cliVerdict = vsCLI > 1 ? "met" : "NOT met"
        print(
            String(format: "  VideoIO/floor %.3f× (target ≤ 1.05×: ", vsFloor) + floorVerdict
                + String(format: "), CLI/VideoIO %.3f× (target > 1×: ", vsCLI) + cliVerdict
                + String(
                    format: "); without the CLI's start-up: %.3f× and %.3f×", total.videoIO / fairFloor,
                    fairCLI / total.videoIO))
    }

    static let header =
        "file                              input s   frames    VideoIO s/s   ffmpeg-job s/s   full-decode s/s   VideoIO/floor  CLI/VideoIO"

    private func printRow(_ row: Row) {
        let name = row.name.count > 32 ? String(row.name.prefix(29)) + "..." : row.name
        print(
            name.padding(toLength: 32, withPad: " ", startingAt: 0)
                + String(
                    format: " %9.2f %8d %14.1f %16.1f %17.1f %14.3f %12.3f",
                    row.seconds, row.frames,
                    row.seconds / row.videoIO, row.seconds / row.cli, row.seconds / row.floor,
                    row.videoIO / row.floor, row.cli / row.videoIO))
    }

    /// Every video under the arguments, with the argument it came from.
    private func collectFiles() throws -> [(group: String, path: String)] {
        let extensions: Set<String> = [
            "mp4", "mov", "mkv", "webm", "avi", "ts", "m4v", "mpg", "mpeg", "flv", "3gp", "ogv", "h264",
        ]
        var files: [(String, String)] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw ValidationError("\(path): no such file or folder")
            }
            if !isDirectory.boolValue {
                files.append((path, path))
                continue
            }
            files += FileTree.walk(path).files
                .filter { extensions.contains(URL(fileURLWithPath: $0).pathExtension.lowercased()) }
                .map { (path, $0) }
        }
        return files
    }

    private func timeVideoIO(_ path: String, logger: Logger) throws -> (Double, Int) {
        let configuration = ClipConfiguration(
            fps: fps, frames: 1,
            buckets: BucketPolicy(sizes: [size], aspectRatios: [AspectRatio(1, 1)], maxUpscale: 1000),
            decoderThreads: 1)
        let start = DispatchTime.now()
        let reader = try ClipReader(path: path, configuration: configuration, logger: logger)
        var frames = 0
        while let clip = try reader.next() { frames += clip.frameCount }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        return (elapsed, frames)
    }

    /// The same job through the ffmpeg CLI: fps, short side to `size` (area filter), centre crop, RGB.
    private func cliJob(_ path: String, info: MediaInfo) -> [String] {
        let scale = info.width >= info.height ? "scale=-2:\(size):flags=area" : "scale=\(size):-2:flags=area"
        return [
            "-threads", "1", "-filter_threads", "1", "-i", path, "-an", "-sn", "-dn",
            "-vf", "fps=\(fps),\(scale),crop=\(size):\(size)", "-pix_fmt", "rgb24", "-f", "rawvideo", "-y", "/dev/null",
        ]
    }

    private func timeCLI(_ arguments: [String]) throws -> Double {
        let start = DispatchTime.now()
        // The CLI's warnings (e.g. the null muxer on VFR input) are noise here; failures are not.
        let result = try Subprocess.run("/usr/bin/env", [ffmpeg, "-v", "error", "-nostdin"] + arguments)
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        guard result.status == 0 else {
            throw ValidationError("ffmpeg \(arguments.joined(separator: " ")) exited with \(result.status)")
        }
        return elapsed
    }

    private func cliVersion() throws -> String {
        let result = try Subprocess.run("/usr/bin/env", [ffmpeg, "-version"])
        return result.stdout.split(separator: "\n").first.map(String.init) ?? "unknown"
    }
}
