import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Atomic file publication: write under a temporary name in the same folder, fsync,
/// rename over the final name, fsync the folder. A crash leaves either the old file or
/// the new one, never a half-written file under the final name.
enum AtomicFile {
    /// A temporary sibling name that readers and folder watchers ignore (leading dot, `.tmp`).
    static func temporaryPath(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        let name = ".\(url.deletingPathExtension().lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp.\(url.pathExtension)"
        return url.deletingLastPathComponent().appendingPathComponent(name).path
    }

    /// fsyncs `temporary`, renames it to `path` and fsyncs the containing folder.
    static func commit(_ temporary: String, to path: String) throws {
        try fsync(path: temporary)
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw VideoIOError(.io, "could not move the finished file into place: \(reason)", file: path)
        }
        try? fsync(path: URL(fileURLWithPath: path).deletingLastPathComponent().path)
    }

    /// Writes `bytes` to `path` atomically.
    static func write(_ bytes: UnsafeRawBufferPointer, to path: String) throws {
        let temporary = temporaryPath(for: path)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw VideoIOError(.io, "could not create the file: \(String(cString: strerror(errno)))", file: path)
        }
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                let reason = String(cString: strerror(errno))
                close(fd)
                unlink(temporary)
                throw VideoIOError(.io, "writing failed: \(reason)", file: path)
            }
            offset += n
        }
        close(fd)
        try commit(temporary, to: path)
    }

    private static func fsync(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw VideoIOError(.io, "could not open for fsync: \(String(cString: strerror(errno)))", file: path) }
        defer { close(fd) }
        if Glibc.fsync(fd) != 0 && errno != EINVAL {
            throw VideoIOError(.io, "fsync failed: \(String(cString: strerror(errno)))", file: path)
        }
    }
}
