import ArgumentParser
import Foundation
import VideoIO

struct ProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Show container, video stream, display size, rates and duration of media files.",
        discussion: "Exits 1 when any file cannot be read; each failure is printed with its reason."
    )

    @Argument(help: "Video or image files.", completion: .file())
    var files: [String]

    @Flag(help: "Print a JSON array (one object per file; failures carry an \"error\" object).")
    var json = false

    @OptionGroup var global: GlobalOptions

    func run() throws {
        var failures = 0
        var records: [ProbeRecord] = []
        for file in files {
            do {
                let info = try probe(file)
                if json { records.append(ProbeRecord(file: file, info: info, error: nil)) } else { printHuman(info) }
            } catch let error as VideoIOError {
                failures += 1
                if json {
                    records.append(ProbeRecord(file: file, info: nil, error: .init(error)))
                } else {
                    printError("error: \(error)")
                }
            }
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(records), as: UTF8.self))
        }
        if failures > 0 { throw ExitCode(1) }
    }

    private func printHuman(_ info: MediaInfo) {
        print(info.path)
        print("  container   \(info.container)\(info.isStillImage ? " (still image)" : "")")
        print("  video       stream #\(info.videoStream), \(info.codec), \(info.pixelFormat)")
        var size = "\(info.width)×\(info.height)"
        if info.rotation != 0 { size += " (stored \(info.codedWidth)×\(info.codedHeight), rotated \(info.rotation)°)" }
        print("  size        \(size)")
        if !info.isStillImage {
            let avg = info.averageFrameRate.map { String(format: "%.3f", $0) } ?? "?"
            let real = info.realFrameRate.map { String(format: "%.3f", $0) } ?? "?"
            print("  frame rate  \(avg) fps average, \(real) fps real")
            print("  duration    \(formatSeconds(info.duration))")
        }
        print(
            "  frames      \(info.frameCount.map(String.init) ?? (info.estimatedFrameCount.map { "~\($0) (estimated)" } ?? "unknown"))"
        )
        print("  audio       \(info.hasAudio ? "yes" : "no")")
    }
}

struct ProbeRecord: Encodable {
    struct Failure: Encodable {
        var code: String
        var message: String
        var cause: String?
        init(_ error: VideoIOError) {
            code = error.code.rawValue
            message = error.message
            cause = error.cause
        }
    }
    var file: String
    var info: MediaInfo?
    var error: Failure?
}
