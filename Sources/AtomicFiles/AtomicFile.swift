import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A failed file write, with the path and the system's reason.
public struct AtomicFileError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String
    /// The errno behind it, when there is one.
    public var errno: Int32?
    public var description: String { "\(path): \(message)" }
}

/// Atomic file publication: write under a hidden temporary name in the same folder,
/// fsync, rename over the final name, fsync the folder. A crash at any moment leaves
/// either the old file or the new one, never a half-written file under the final name.
/// Temporary names start with a dot and contain ".tmp", which folder watchers ignore.
public final class AtomicFile {
    public let path: String
    public let temporaryPath: String
    private var descriptor: Int32
    private var done = false

    /// Creates the temporary file for `path`.
    public init(path: String) throws {
        self.path = path
        temporaryPath = AtomicFile.temporaryPath(for: path)
        descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw AtomicFile.failure(path, "could not create a temporary file") }
    }

    deinit { if !done { abandon() } }

    /// Appends bytes.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                let error = AtomicFile.failure(path, "writing failed")
                abandon()
                throw error
            }
            offset += n
        }
    }

    public func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    /// fsyncs, closes and renames the file into place.
    public func commit() throws {
        precondition(!done, "commit after commit or abandon")
        if fsync(descriptor) != 0 && errno != EINVAL {
            let error = AtomicFile.failure(path, "fsync failed")
            abandon()
            throw error
        }
        close(descriptor)
        done = true
        try AtomicFile.publish(temporaryPath, to: path)
    }

    /// Removes the temporary file; the final name is untouched.
    public func abandon() {
        guard !done else { return }
        done = true
        close(descriptor)
        unlink(temporaryPath)
    }

    /// Writes `bytes` to `path` atomically.
    public static func write(_ bytes: UnsafeRawBufferPointer, to path: String) throws {
        let file = try AtomicFile(path: path)
        try file.write(bytes)
        try file.commit()
    }

    /// A hidden temporary sibling of `path` (for writers that open files themselves, like FFmpeg's muxers).
    public static func temporaryPath(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        let ext = url.pathExtension.isEmpty ? "" : ".\(url.pathExtension)"
        let name =
            ".\(url.deletingPathExtension().lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp\(ext)"
        return url.deletingLastPathComponent().appendingPathComponent(name).path
    }

    /// fsyncs a finished `temporary` file, renames it to `path` and fsyncs the folder.
    public static func publish(_ temporary: String, to path: String) throws {
        let fd = open(temporary, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure(path, "could not reopen the temporary file") }
        let synced = fsync(fd) == 0 || errno == EINVAL
        close(fd)
        guard synced else {
            unlink(temporary)
            throw failure(path, "fsync failed")
        }
        guard rename(temporary, path) == 0 else {
            let error = failure(path, "could not move the finished file into place")
            unlink(temporary)
            throw error
        }
        let folder = open(URL(fileURLWithPath: path).deletingLastPathComponent().path, O_RDONLY | O_CLOEXEC)
        if folder >= 0 {
            _ = fsync(folder)
            close(folder)
        }
    }

    private static func failure(_ path: String, _ what: String) -> AtomicFileError {
        let code = errno
        return AtomicFileError(path: path, message: "\(what): \(String(cString: strerror(code)))", errno: code)
    }
}
