import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One writer per data folder, and the writer's health where `status` can read it.
///
/// `serve` and `ingest` hold an exclusive `flock` on `writer.lock` in the data folder for as
/// long as they run: start-up recovery deletes shard files the catalog does not list and puts
/// `processing` sources back to `pending`, which is only right when no other process is
/// writing. The kernel drops the lock when the process dies, however it dies.
///
/// The file also holds the owner's pid, command and latest error as JSON. Errors such as a
/// full disk cannot be written to the catalog, so the report is rewritten in place into
/// `reportBytes` allocated when the lock is taken: overwriting allocated blocks needs no
/// free space.
public final class DataFolderLock: @unchecked Sendable {
    /// What the lock file says about its owner.
    public struct Report: Codable, Sendable, Equatable {
        public var pid: Int32
        public var command: String
        public var startedAt: Double
        public var updatedAt: Double
        /// The error the owner is stuck on now (nil once it recovered).
        public var error: String?
        public var errorSince: Double?
        /// Ingest folders that do not exist (watched for until they appear).
        public var missingFolders: [String] = []

        enum CodingKeys: String, CodingKey {
            case pid, command, error
            case startedAt = "started_at", updatedAt = "updated_at", errorSince = "error_since", missingFolders =
                "missing_folders"
        }
    }

    static let reportBytes = 4096
    public static func path(in folder: String) -> String { folder + "/writer.lock" }

    private let descriptor: Int32
    private let lock = NSLock()
    private var report: Report

    /// Takes the folder's lock or throws `IngestError(.busy)` naming the process that has it.
    public init(folder: String, command: String) throws {
        let path = Self.path(in: folder)
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw IngestError(.io, "cannot open \(path)", cause: String(cString: strerror(errno)))
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno
            close(descriptor)
            guard reason == EWOULDBLOCK else {
                throw IngestError(.io, "cannot lock \(path)", cause: String(cString: strerror(reason)))
            }
            let owner = Self.read(folder: folder).map { "`\($0.command)` (pid \($0.pid))" } ?? "another process"
            throw IngestError(
                .busy,
                "the data folder \(folder) is in use by \(owner); one process writes a data folder. "
                    + "Copy the files into that daemon's ingest folder instead, or stop it first")
        }
        let now = Date().timeIntervalSince1970
        report = Report(pid: getpid(), command: command, startedAt: now, updatedAt: now)
        // Allocate the report's space now, while there is room.
        _ = ftruncate(descriptor, off_t(Self.reportBytes))
        _ = posix_fallocate(descriptor, 0, off_t(Self.reportBytes))
        persist()
    }

    deinit { close(descriptor) }  // closing releases the flock

    /// Records the error the owner is stuck on (nil: it recovered).
    public func update(error: String?) {
        change { report in
            if error == nil {
                report.errorSince = nil
            } else if report.error == nil {
                report.errorSince = report.updatedAt
            }
            report.error = error
        }
    }

    /// Records the ingest folders that do not exist.
    public func update(missingFolders: [String]) {
        change { $0.missingFolders = missingFolders }
    }

    private func change(_ body: (inout Report) -> Void) {
        lock.lock()
        defer { lock.unlock() }
        report.updatedAt = Date().timeIntervalSince1970
        body(&report)
        persist()
    }

    private func persist() {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var bytes = [UInt8]((try? encoder.encode(report)) ?? Data())
        if bytes.count > Self.reportBytes - 1 {
            var shorter = report
            shorter.error = report.error.map { String($0.prefix(1000)) + " …" }
            bytes = [UInt8]((try? encoder.encode(shorter)) ?? Data())
        }
        bytes += [UInt8](repeating: 32, count: max(0, Self.reportBytes - 1 - bytes.count)) + [10]
        _ = bytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
    }

    /// The report in `folder`'s lock file, if a writer ever ran there, with whether that
    /// process is still alive (its pid exists).
    public static func read(folder: String) -> Report? {
        guard let data = FileManager.default.contents(atPath: path(in: folder)),
            let report = try? JSONDecoder().decode(Report.self, from: data)
        else { return nil }
        return report
    }

    /// Whether the process that wrote `report` still runs.
    public static func isAlive(_ report: Report) -> Bool {
        kill(report.pid, 0) == 0 || errno == EPERM
    }
}
