import CBakeSystem
import Crypto
import Dispatch
import Glibc
import OCI

/// The metadata of a whole host folder, read with several threads: each level of folders
/// is listed and stat'ed in parallel, then `visit` replays it in the canonical order of
/// layer entries, so the result is the same as `DirectoryWalker`'s whatever the threads.
///
/// Folders are opened with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) from the root, so
/// no symlink is ever followed, even one planted while the scan runs.
public struct ScannedTree: Sendable {
    /// One entry of a folder.
    public struct Child: Sendable {
        public let name: [UInt8]
        public let status: FileStatus
    }

    /// Sorted children of every folder, by the folder's path relative to the root.
    let folders: [[UInt8]: [Child]]

    /// Calls `body` with each path (relative, as bytes) and its stat, in canonical order:
    /// depth first, a folder before its contents, siblings by their name bytes.
    public func visit(_ body: ([UInt8], FileStatus) throws -> Void) rethrows {
        try visit(folder: [], body)
    }

    private func visit(folder: [UInt8], _ body: ([UInt8], FileStatus) throws -> Void) rethrows {
        for child in folders[folder] ?? [] {
            let path = folder.isEmpty ? child.name : folder + [0x2f] + child.name
            try body(path, child.status)
            if child.status.kind == .directory { try visit(folder: path, body) }
        }
    }

    /// Number of entries below the root.
    public var count: Int { folders.values.reduce(0) { $0 + $1.count } }

    /// sha256 of every path with its kind, permissions, size, mtime and ctime (ns), inode
    /// and link count, in canonical order: equal fingerprints mean no file was added,
    /// removed, renamed, rewritten or re-permissioned (content changes always move mtime or
    /// ctime; a replaced file or symlink gets a new inode).
    public func fingerprint() -> OCI.Digest {
        var hasher = SHA256()
        var record = [UInt8]()
        record.reserveCapacity(512)
        visit { path, status in
            record.removeAll(keepingCapacity: true)
            record += path
            record.append(0)
            Self.append(status, to: &record)
            record.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        }
        return OCI.Digest(sha256: hasher.finalize())
    }

    /// The same fingerprint for a single file.
    public static func fingerprint(file status: FileStatus) -> OCI.Digest {
        var record: [UInt8] = [0]
        append(status, to: &record)
        return OCI.Digest(sha256: SHA256.hash(data: record))
    }

    private static func append(_ status: FileStatus, to record: inout [UInt8]) {
        let kind: UInt8
        switch status.kind {
        case .regular: kind = 0x66
        case .directory: kind = 0x64
        case .symlink: kind = 0x6c
        default: kind = 0x78
        }
        record.append(kind)
        for value in [Int64(status.permissions), status.size, status.modificationSeconds, status.modificationNanoseconds,
                      status.changeSeconds, status.changeNanoseconds, Int64(bitPattern: status.inode), Int64(bitPattern: status.linkCount)] {
            withUnsafeBytes(of: value.littleEndian) { record += $0 }
        }
    }
}
