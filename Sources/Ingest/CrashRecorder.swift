import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Remembers which source the process was working on when it died, and of what.
///
/// A decoder bug on one hostile file can abort the whole process (FFmpeg's assertions call
/// `abort()`); restarted, the daemon would take the same file and die again, forever. So:
/// - the source being processed is kept in `active-source` in the data folder (one small
///   `pwrite` per source; a process death keeps it, the page cache survives);
/// - a fatal signal's handler appends "SOURCE SIGNAL" to `crashes.log` — with `write(2)` only,
///   which is safe in a signal handler — and lets the signal kill the process as before.
/// Start-up recovery counts a crash against a source the log names, an interruption (kill -9,
/// the OOM killer: nothing can be caught) against the active one, and nothing against the
/// others that were only waiting for their shard to be sealed.
enum CrashRecorder {
    static let fatalSignals: [Int32] = [SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL]

    static func logPath(in folder: String) -> String { folder + "/crashes.log" }
    static func activePath(in folder: String) -> String { folder + "/active-source" }

    /// Opens (creating) the files in the data folder and installs the handlers. A second call
    /// moves them (one process writes one data folder at a time).
    static func install(folder: String) {
        crashLine[0] = 0  // globals initialise lazily: never for the first time inside the handler
        for (global, path, flags) in [(0, logPath(in: folder), O_APPEND), (1, activePath(in: folder), 0)] {
            let descriptor = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0o644)
            let previous = global == 0 ? crashLogDescriptor : activeDescriptor
            if global == 0 { crashLogDescriptor = descriptor } else { activeDescriptor = descriptor }
            if previous >= 0 { close(previous) }
        }
        for signal in fatalSignals {
            _ = Glibc.signal(signal) { number in CrashRecorder.handle(number) }
        }
    }

    /// Marks the source being processed (nil: none), for the signal handler and for recovery.
    static func working(on source: Int64?) {
        crashSource = source ?? 0
        guard activeDescriptor >= 0 else { return }
        var line = Array(String(source ?? 0).utf8)
        line += [UInt8](repeating: 32, count: 24 - line.count)
        _ = line.withUnsafeBytes { pwrite(activeDescriptor, $0.baseAddress, $0.count, 0) }
    }

    /// The source the previous process was working on when it stopped (nil: none).
    static func active(in folder: String) -> Int64? {
        guard let text = try? String(contentsOfFile: activePath(in: folder), encoding: .utf8),
            let id = Int64(text.trimmingCharacters(in: .whitespacesAndNewlines)), id > 0
        else { return nil }
        return id
    }

    /// The recorded crashes (source → the last fatal signal), read at start-up.
    static func crashes(in folder: String) -> [Int64: Int32] {
        guard let text = try? String(contentsOfFile: logPath(in: folder), encoding: .utf8) else { return [:] }
        var crashes: [Int64: Int32] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 2, let source = Int64(fields[0]), let signal = Int32(fields[1]) {
                crashes[source] = signal
            }
        }
        return crashes
    }

    /// Empties the log once its crashes are counted in the catalog.
    static func clear(in folder: String) {
        _ = truncate(logPath(in: folder), 0)
        working(on: nil)
    }

    /// The handler: no allocation, no locks — digits into a static buffer, one write.
    private static func handle(_ signal: Int32) {
        let source = crashSource
        if source > 0, crashLogDescriptor >= 0 {
            var length = put(source, at: 0)
            crashLine[length] = 32
            length = put(Int64(signal), at: length + 1)
            crashLine[length] = 10
            _ = write(crashLogDescriptor, crashLine, length + 1)
        }
        _ = Glibc.signal(signal, SIG_DFL)
        _ = raise(signal)
    }

    /// Writes the decimal digits of `value` (≥ 0) into `crashLine` at `offset`; returns the end.
    private static func put(_ value: Int64, at offset: Int) -> Int {
        var digits = 0
        var rest = value
        repeat {
            digits += 1
            rest /= 10
        } while rest > 0
        rest = value
        for k in stride(from: digits - 1, through: 0, by: -1) {
            crashLine[offset + k] = UInt8(48 + rest % 10)
            rest /= 10
        }
        return offset + digits
    }
}

// State the signal handler reads: plain words, written before any crash can need them.
nonisolated(unsafe) private var crashLogDescriptor: Int32 = -1
nonisolated(unsafe) private var activeDescriptor: Int32 = -1
nonisolated(unsafe) private var crashSource: Int64 = 0
nonisolated(unsafe) private let crashLine = UnsafeMutablePointer<UInt8>.allocate(capacity: 64)
