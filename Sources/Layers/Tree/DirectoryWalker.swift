import Glibc

/// Walks a host folder in the canonical order of layer entries: depth first, a folder
/// before its contents, siblings sorted by their name bytes. readdir order never leaks.
public enum DirectoryWalker {
    /// Calls `visit` for every file below `root` (not `root` itself). Symlinks are reported,
    /// never followed. Each folder is opened relative to its parent's descriptor with
    /// `O_NOFOLLOW` and each file is stat'ed relative to its folder, so the kernel resolves
    /// one name per call instead of the whole path (what makes a no-op build fast).
    /// Memory is bounded by the depth times the width of one folder.
    public static func walk(_ root: [UInt8], visit: (WalkedFile) throws -> Void) throws {
        let fd = FileSystem.withCString(root) { open($0, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        guard fd >= 0 else { throw LayersError.system(operation: "open folder", path: FileSystem.text(root), errno: errno) }
        defer { close(fd) }
        try walk(fd: fd, hostPath: root, relative: .root, visit: visit)
    }

    private static func walk(fd: Int32, hostPath: [UInt8], relative: RelativePath, visit: (WalkedFile) throws -> Void) throws {
        for name in try FileSystem.directoryEntries(fd: fd, describedAs: FileSystem.text(hostPath)) {
            var st = stat()
            let rc = FileSystem.withCString(name) { fstatat(fd, $0, &st, AT_SYMLINK_NOFOLLOW) }
            let childHost = hostPath + [0x2f] + name
            guard rc == 0 else {
                throw LayersError.system(operation: "stat", path: FileSystem.text(childHost), errno: errno)
            }
            let status = FileStatus(st)
            let child = WalkedFile(path: relative.appending(name), hostPath: childHost, status: status,
                                   shortPath: Array("/proc/self/fd/\(fd)/".utf8) + name)
            try visit(child)
            if status.kind == .directory {
                let childFD = FileSystem.withCString(name) { openat(fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
                guard childFD >= 0 else {
                    throw LayersError.system(operation: "open folder", path: FileSystem.text(childHost), errno: errno)
                }
                defer { close(childFD) }
                try walk(fd: childFD, hostPath: childHost, relative: child.path, visit: visit)
            }
        }
    }
}
