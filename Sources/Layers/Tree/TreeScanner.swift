import CBakeSystem
import Crypto
import Dispatch
import Glibc
import OCI

public enum TreeScanner {
    /// Scans everything below `root` (a folder) with up to `threads` threads.
    public static func scan(_ root: String, threads: Int = GzipSink.defaultThreads) throws -> ScannedTree {
        let rootFD = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard rootFD >= 0 else { throw LayersError.system(operation: "open folder", path: root, errno: errno) }
        defer { close(rootFD) }
        var folders: [[UInt8]: [ScannedTree.Child]] = [:]
        var level: [[UInt8]] = [[]]
        while !level.isEmpty {
            let results = try scanLevel(level, rootFD: rootFD, root: root, threads: threads)
            var next: [[UInt8]] = []
            for (folder, children) in zip(level, results) {
                folders[folder] = children
                for child in children where child.status.kind == .directory {
                    next.append(folder.isEmpty ? child.name : folder + [0x2f] + child.name)
                }
            }
            level = next
        }
        return ScannedTree(folders: folders)
    }

    /// Lists and stats every folder of one level, in parallel.
    private static func scanLevel(_ level: [[UInt8]], rootFD: Int32, root: String, threads: Int) throws -> [[ScannedTree.Child]] {
        try Parallel.map(level.count, threads: threads) { index in
            try scanFolder(level[index], rootFD: rootFD, root: root)
        }
    }

    private static func scanFolder(_ relative: [UInt8], rootFD: Int32, root: String) throws -> [ScannedTree.Child] {
        let shown = relative.isEmpty ? root : root + "/" + FileSystem.text(relative)
        let fd: Int32
        if relative.isEmpty {
            fd = dup(rootFD)
        } else {
            fd = FileSystem.withCString(relative) { bake_open_beneath(rootFD, $0, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        }
        guard fd >= 0 else {
            if errno == ELOOP || errno == EXDEV || errno == ENOTDIR {
                throw LayersError.unsafeEntry(path: shown, reason: "it changed into a symlink while bake read it")
            }
            throw LayersError.system(operation: "open folder", path: shown, errno: errno)
        }
        defer { close(fd) }
        return try FileSystem.directoryEntries(fd: fd, describedAs: shown).map { name in
            var st = stat()
            let rc = FileSystem.withCString(name) { fstatat(fd, $0, &st, AT_SYMLINK_NOFOLLOW) }
            guard rc == 0 else {
                throw LayersError.system(operation: "stat", path: shown + "/" + FileSystem.text(name), errno: errno)
            }
            return ScannedTree.Child(name: name, status: FileStatus(st))
        }
    }
}
