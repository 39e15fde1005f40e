import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Watches folders recursively with inotify and collects the paths that changed.
///
/// inotify can drop events (queue overflow) and does not work on every network
/// filesystem, so the daemon also rescans periodically; `drain()` reports an overflow so
/// the caller rescans at once.
final class FolderWatcher: @unchecked Sendable {
    private let descriptor: Int32
    private let logger: Logger
    private let lock = NSLock()
    private var watches: [Int32: String] = [:]
    private var changed: Set<String> = []
    private var overflowed = false
    private var running = true
    private var thread: Thread?

    private static let mask: UInt32 = UInt32(
        IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_MODIFY | IN_DELETE | IN_MOVED_FROM | IN_ATTRIB)

    init(folders: [String], logger: Logger) throws {
        self.logger = logger
        descriptor = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard descriptor >= 0 else {
            throw IngestError(
                .io,
                "inotify is not available: \(String(cString: strerror(errno))); only periodic rescans will find files")
        }
        for folder in folders { add(folder) }
    }

    deinit { close(descriptor) }

    func add(_ folder: String) {
        let wd = inotify_add_watch(descriptor, folder, Self.mask)
        if wd < 0 {
            logger.warning(
                "cannot watch a folder",
                metadata: ["folder": "\(folder)", "reason": "\(String(cString: strerror(errno)))"])
            return
        }
        // The same folder reached again (a link loop, two links to it) gets the same watch: keep
        // its first name and do not descend twice.
        lock.lock()
        let known = watches[wd] != nil
        if !known { watches[wd] = folder }
        lock.unlock()
        if known { return }
        guard let children = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        for child in children where !child.hasPrefix(".") {
            var isDirectory: ObjCBool = false
            let path = folder + "/" + child
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                add(path)
            }
        }
    }

    func start() {
        let thread = Thread { [weak self] in self?.loop() }
        thread.name = "videoar.watcher"
        self.thread = thread
        thread.start()
    }

    func stop() {
        lock.lock()
        running = false
        lock.unlock()
    }

    /// The paths that changed since the last call, and whether events were lost.
    func drain() -> (paths: Set<String>, overflow: Bool) {
        lock.lock()
        defer {
            changed.removeAll()
            overflowed = false
            lock.unlock()
        }
        return (changed, overflowed)
    }

    private var isRunning: Bool {
        lock.lock()
        defer { lock.unlock() }
        return running
    }

    private func loop() {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while isRunning {
            var pollDescriptor = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&pollDescriptor, 1, 250) > 0 else { continue }
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { continue }
            var offset = 0
            var newFolders: [String] = []
            lock.lock()
            while offset + 16 <= count {
                // struct inotify_event { int wd; uint32_t mask, cookie, len; char name[len]; }
                let (wd, mask, length) = buffer.withUnsafeBytes { raw in
                    (
                        raw.loadUnaligned(fromByteOffset: offset, as: Int32.self),
                        raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self),
                        Int(raw.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
                    )
                }
                let nameBytes = buffer[(offset + 16)..<min(count, offset + 16 + length)].prefix { $0 != 0 }
                offset += 16 + length
                if mask & UInt32(IN_Q_OVERFLOW) != 0 {
                    overflowed = true
                    continue
                }
                guard let folder = watches[wd], !nameBytes.isEmpty else { continue }
                let path = folder + "/" + String(decoding: nameBytes, as: UTF8.self)
                if mask & UInt32(IN_ISDIR) != 0 {
                    if mask & UInt32(IN_CREATE | IN_MOVED_TO) != 0 { newFolders.append(path) }
                    continue
                }
                changed.insert(path)
            }
            lock.unlock()
            for folder in newFolders {
                add(folder)
                // Files may have landed before the watch existed.
                lock.lock()
                overflowed = true
                lock.unlock()
            }
        }
    }
}
