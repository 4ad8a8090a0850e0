import Glibc

/// A file found while walking a host folder.
public struct WalkedFile: Sendable {
    /// Path relative to the walk's root.
    public let path: RelativePath
    /// Absolute host path, as bytes.
    public let hostPath: [UInt8]
    /// `lstat` of the file (symlinks are not followed).
    public let status: FileStatus
}
