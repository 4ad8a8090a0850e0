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

/// Work spread over threads, results in order.
public enum Parallel {
    /// `body(0) ... body(count - 1)` on up to `threads` threads; the results in index order.
    /// The first error (by index) is thrown after every iteration has finished.
    public static func map<T>(_ count: Int, threads: Int, _ body: @escaping @Sendable (Int) throws -> T) throws -> [T] {
        let results = ResultSlots<T>(count: count)
        let work: @Sendable (Int) -> Void = { index in results.set(index, Result { try body(index) }) }
        if threads <= 1 || count <= 1 {
            for index in 0..<count { work(index) }
        } else {
            DispatchQueue.concurrentPerform(iterations: count, execute: work)
        }
        return try results.values()
    }
}

/// Slots a parallel loop fills, one per iteration, without a lock: each index is written
/// by exactly one iteration and read after the loop ends. A raw buffer, so that writes to
/// different slots are not exclusive accesses to one Swift array.
final class ResultSlots<Value>: @unchecked Sendable {
    private let buffer: UnsafeMutablePointer<Result<Value, any Error>?>
    private let count: Int

    init(count: Int) {
        self.count = count
        buffer = .allocate(capacity: max(count, 1))
        buffer.initialize(repeating: nil, count: count)
    }

    deinit {
        buffer.deinitialize(count: count)
        buffer.deallocate()
    }

    func set(_ index: Int, _ value: Result<Value, any Error>) {
        buffer[index] = value
    }

    func values() throws -> [Value] {
        try (0..<count).map { index in
            guard let slot = buffer[index] else { throw LayersError.unsupported("a parallel scan left a folder unread") }
            return try slot.get()
        }
    }
}
