/// A file found while walking a host folder.
public struct WalkedFile: Sendable {
    /// Path relative to the walk's root.
    public let path: RelativePath
    /// Absolute host path, as bytes.
    public let hostPath: [UInt8]
    /// `lstat` of the file (symlinks are not followed).
    public let status: FileStatus
}

/// Walks a host folder in the canonical order of layer entries: depth first, a folder
/// before its contents, siblings sorted by their name bytes. readdir order never leaks.
public enum DirectoryWalker {
    /// Calls `visit` for every file below `root` (not `root` itself). Symlinks are reported,
    /// never followed. Memory is bounded by the depth times the width of one folder.
    public static func walk(_ root: [UInt8], visit: (WalkedFile) throws -> Void) throws {
        try walk(root, relative: .root, visit: visit)
    }

    private static func walk(_ hostPath: [UInt8], relative: RelativePath, visit: (WalkedFile) throws -> Void) throws {
        for name in try FileSystem.directoryEntries(hostPath) {
            let childHost = hostPath + [0x2f] + name
            let status = try FileSystem.lstat(childHost)
            let child = WalkedFile(path: relative.appending(name), hostPath: childHost, status: status)
            try visit(child)
            if status.kind == .directory {
                try walk(childHost, relative: child.path, visit: visit)
            }
        }
    }
}
