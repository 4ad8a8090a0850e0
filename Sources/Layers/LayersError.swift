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
    /// A blob's descriptor gives a size its bytes do not have (`actual` nil: more bytes
    /// than claimed, reading stopped there).
    case sizeMismatch(digest: Digest, claimed: Int64, actual: Int64?, what: String)
    /// A blob the store should hold is missing.
    case missingBlob(Digest)
    /// A file changed size while it was being archived.
    case fileChanged(path: String)
    /// Something a layer cannot hold.
    case unsupported(String)
    /// The store is not usable (wrong layout, unreadable index).
    case store(String)
    /// An input that must be a regular file is something else (a named pipe, a device, a
    /// folder, or a symlink where none may be).
    case notRegularFile(path: String, kind: FileStatus.Kind)
    /// A path that must be a folder is something else.
    case notAFolder(path: String, kind: FileStatus.Kind)
    /// A file bake reads whole (a document, an index) is larger than it accepts.
    case tooLarge(path: String, limit: Int64)

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
        case .sizeMismatch(let digest, let claimed, let actual, let what):
            return "\(what) \(digest) is described as \(claimed) bytes but has " + (actual.map { "\($0)" } ?? "more")
        case .missingBlob(let digest):
            return "blob \(digest) is missing from the store"
        case .fileChanged(let path):
            return "\(path) changed while it was being read; retry the build"
        case .unsupported(let reason):
            return reason
        case .store(let reason):
            return reason
        case .notRegularFile(let path, let kind):
            return "\(path) is \(kind.article), not a regular file"
        case .notAFolder(let path, let kind):
            return "\(path) is \(kind.article), not a folder"
        case .tooLarge(let path, let limit):
            return "\(path) is larger than \(limit >= 1 << 20 ? "\(limit >> 20) MiB" : "\(limit) bytes"), more than bake reads"
        }
    }

    /// The errno of a failed system call, if this is one.
    public var errno: Int32? {
        if case .system(_, _, let code) = self { return code }
        return nil
    }
}
