import CBakeSystem
import Glibc

/// Temporary files and folders bake writes beside an output before renaming them over it
/// (`.bake-tmp-XXXXXX`), so the output appears only when complete. The writer holds an
/// flock on what it stages for as long as it writes; a staged entry nobody holds is what a
/// killed bake left, and the next writer into the same folder removes it.
extension FileSystem {
    /// The name prefix of staged files and folders.
    public static let stagingPrefix = ".bake-tmp"

    /// A staged folder: its path and the descriptor that holds its lock.
    public final class StagedFolder {
        public let path: String
        private let fd: Int32

        init(path: String, fd: Int32) {
            self.path = path
            self.fd = fd
        }

        deinit { close(fd) }
    }

    /// Makes `DIR/.bake-tmp-XXXXXX`, locked until the returned value goes away.
    public static func makeStagedFolder(in directory: String, mode: mode_t) throws -> StagedFolder {
        let path = try makeTemporaryDirectory(in: directory, prefix: stagingPrefix, mode: mode)
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0, flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            if fd >= 0 { close(fd) }
            try? removeTree(path)
            throw LayersError.system(operation: "lock the temporary folder", path: path, errno: code)
        }
        return StagedFolder(path: path, fd: fd)
    }

    /// Removes what killed bake processes staged in `folder` and left there: entries named
    /// `.bake-tmp-*` that no live process holds locked. Returns one sentence per entry that
    /// could not be removed (it is left; nothing stops the caller).
    @discardableResult
    public static func removeAbandonedStaging(in folder: String) -> [String] {
        guard let names = try? directoryEntries(Array(folder.utf8)) else { return [] }
        var problems: [String] = []
        for name in names where name.starts(with: Array(stagingPrefix.utf8)) {
            let path = Array(folder.utf8) + [0x2f] + name
            // Non-blocking, not following a symlink: whatever sits under the name, opening it
            // must not wait or reach elsewhere. A name that cannot be opened (a symlink) is
            // removed as it is.
            let fd = withCString(path) { open($0, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC) }
            if fd >= 0 {
                defer { close(fd) }
                // Held by a live writer: not debris.
                guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { continue }
            }
            do {
                try removeTree(bytes: path)
            } catch {
                problems.append("cannot remove the leftover \(text(path)): \(error)")
            }
        }
        return problems
    }
}
