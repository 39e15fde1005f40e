import Foundation
import Diagnostics

/// Runs a program to its end, the one way every module starts one.
///
/// Output goes through temporary files rather than `Pipe`: Foundation traps when a pipe
/// read is interrupted (EINTR), and a file never fills up and stalls the child.
public enum Subprocess {
    /// How a run ended and what it printed.
    public struct Result: Sendable, Equatable {
        /// The exit status (the signal number if a signal ended it).
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs `executable` (a path) with `arguments`, standard input empty, and waits for it.
    /// Throws only when the program cannot be started; a failing program is a `Result`.
    public static func run(_ executable: String, _ arguments: [String]) throws -> Result {
        let folder = FileManager.default.temporaryDirectory
        let stem = "videoar-subprocess-\(getpid())-\(UUID().uuidString)"
        let out = folder.appendingPathComponent(stem + ".out"), err = folder.appendingPathComponent(stem + ".err")
        defer {
            try? FileManager.default.removeItem(at: out)
            try? FileManager.default.removeItem(at: err)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        guard FileManager.default.createFile(atPath: out.path, contents: nil),
            FileManager.default.createFile(atPath: err.path, contents: nil)
        else {
            throw SubprocessError(.launch, "\(executable): cannot create its output files in \(folder.path)")
        }
        let outHandle: FileHandle, errHandle: FileHandle
        do {
            outHandle = try FileHandle(forWritingTo: out)
            errHandle = try FileHandle(forWritingTo: err)
        } catch {
            throw SubprocessError(
                .launch, "\(executable): cannot open its output files", cause: error.localizedDescription)
        }
        defer {
            try? outHandle.close()
            try? errHandle.close()
        }
        process.standardOutput = outHandle
        process.standardError = errHandle
        do { try process.run() } catch {
            throw SubprocessError(.launch, "\(executable): cannot run it", cause: error.localizedDescription)
        }
        process.waitUntilExit()
        func text(_ file: URL) -> String { String(decoding: (try? Data(contentsOf: file)) ?? Data(), as: UTF8.self) }
        return Result(status: process.terminationStatus, stdout: text(out), stderr: text(err))
    }
}

/// A program that could not be started.
public typealias SubprocessError = ModuleError<SubprocessErrorCode>

public enum SubprocessErrorCode: String, Sendable { case launch }
