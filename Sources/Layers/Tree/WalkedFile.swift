import Glibc

/// A file found while walking a host folder.
public struct WalkedFile: Sendable {
    /// Path relative to the walk's root.
    public let path: RelativePath
    /// Absolute host path, as bytes.
    public let hostPath: [UInt8]
    /// `lstat` of the file (symlinks are not followed).
    public let status: FileStatus
    /// A path to the same file that is short however deep the file is
    /// (`/proc/self/fd/FD/NAME`, through the walker's open folder), valid only while the
    /// walker's callback runs: for calls that need a path where `hostPath` may be longer
    /// than Linux accepts.
    public let shortPath: [UInt8]
}
