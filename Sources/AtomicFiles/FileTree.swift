import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The files under a path, the one folder walk every module uses.
///
/// Symbolic links are followed — a linked ingest folder or a linked sub-folder is what its
/// owner meant — and every folder is walked once, by its device and inode, so a link loop
/// or two links to one folder cannot repeat or hang the walk. Paths are returned as reached
/// (through the link), sorted, so runs are reproducible.
public enum FileTree {
    /// What one walk found.
    public struct Listing: Sendable, Equatable {
        /// Regular files.
        public var files: [String] = []
        /// Things that are neither a folder nor a regular file (FIFOs, sockets, devices, broken links).
        public var others: [String] = []
    }

    /// Walks `root` (a file or a folder). A root that does not exist gives an empty listing.
    /// - Parameters:
    ///   - hidden: include hidden names (a leading dot) below the root, e.g. temporaries.
    ///   - skip: names (not paths) to leave out, with everything under them.
    public static func walk(_ root: String, hidden: Bool = false, skip: (String) -> Bool = { _ in false }) -> Listing {
        var listing = Listing()
        var seen: Set<FolderID> = []
        let skipping: (String) -> Bool = { name in (!hidden && name.hasPrefix(".")) || skip(name) }
        visit(
            URL(fileURLWithPath: root).standardizedFileURL.path, isRoot: true, skip: skipping, seen: &seen,
            into: &listing)
        listing.files.sort()
        listing.others.sort()
        return listing
    }

    /// The regular files under each root, in order, each at most once.
    public static func files(under roots: [String], skip: (String) -> Bool = { _ in false }) -> [String] {
        var result: [String] = []
        var returned: Set<String> = []
        for root in roots {
            for file in walk(root, skip: skip).files where returned.insert(file).inserted { result.append(file) }
        }
        return result
    }

    private struct FolderID: Hashable {
        let device: UInt64
        let inode: UInt64
    }

    private static func visit(
        _ path: String, isRoot: Bool, skip: (String) -> Bool, seen: inout Set<FolderID>,
        into listing: inout Listing
    ) {
        var info = stat()
        guard stat(path, &info) == 0 else {
            // A broken link below the root is worth reporting; a missing root is just empty.
            if !isRoot { listing.others.append(path) }
            return
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG:
            listing.files.append(path)
        case S_IFDIR:
            guard seen.insert(FolderID(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))).inserted,
                let names = try? FileManager.default.contentsOfDirectory(atPath: path)
            else { return }
            for name in names where !skip(name) {
                visit(
                    path == "/" ? "/" + name : path + "/" + name, isRoot: false, skip: skip, seen: &seen, into: &listing
                )
            }
        default:
            listing.others.append(path)
        }
    }
}
