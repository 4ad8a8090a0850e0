import Diagnostics
import Glibc
import OCI

/// Errors raised by Layers: file system calls, archive format problems, unsafe archive
/// entries and store corruption. Each describes itself in one sentence naming the path or blob.
public enum LayersError: BakeError, Sendable {
    /// A file system, archive or store problem is a failure (exit 1); where the archive is the
    /// user's input, the caller adds that context with `.badInput`.
    public var exitStatus: BakeExitStatus { .failure }

    /// A system call failed on a path.
    case system(operation: String, path: String, errno: Int32)
    /// An archive is not a tar file bake can read.
    case malformedArchive(String)
    /// An archive entry would write outside the root or through a symlink.
    case unsafeEntry(path: String, reason: String)
    /// A compressed stream is corrupt or truncated.
    case compression(String)
    /// A blob's bytes do not hash to its name.
    case digestMismatch(expected: Digest, actual: Digest, what: String)
    /// A blob the store should hold is missing.
    case missingBlob(Digest)
    /// A file changed size while it was being archived.
    case fileChanged(path: String)
    /// Something a layer cannot hold.
    case unsupported(String)
    /// The store is not usable (wrong layout, unreadable index).
    case store(String)

    public var description: String {
        switch self {
        case .system(let operation, let path, let code):
            return "cannot \(operation) \(path): \(String(cString: strerror(code)))"
        case .malformedArchive(let reason):
            return "malformed tar archive: \(reason)"
        case .unsafeEntry(let path, let reason):
            return "refusing archive entry '\(path)': \(reason)"
        case .compression(let reason):
            return "corrupt compressed data: \(reason)"
        case .digestMismatch(let expected, let actual, let what):
            return "\(what) \(expected) is corrupt: its bytes hash to \(actual)"
        case .missingBlob(let digest):
            return "blob \(digest) is missing from the store"
        case .fileChanged(let path):
            return "\(path) changed while it was being read; retry the build"
        case .unsupported(let reason):
            return reason
        case .store(let reason):
            return reason
        }
    }

    /// The errno of a failed system call, if this is one.
    public var errno: Int32? {
        if case .system(_, _, let code) = self { return code }
        return nil
    }
}
