import Glibc
import Layers

/// Copies build contexts for `bake verify` so that everything bake must not depend on
/// differs from the original: the path, the modification times (each file gets another,
/// far from the original), the order the entries are created in (reverse byte order, so a
/// file system that lists entries in creation order lists them differently) and the inode
/// numbers. Content, permission bits, symlinks and hard links are kept, as they are inputs.
struct ContextCopy {
    /// The first modification time given (2001-09-09T01:46:40Z); entry N gets this + N*61 s,
    /// so no two files keep their relative order by time.
    static let firstTime: Int64 = 1_000_000_000

    private var counter: Int64 = 0
    private var links: [UInt64: [UInt8]] = [:]

    /// Copies the tree at `source` to `destination` (which must not exist yet).
    static func copy(_ source: String, to destination: String) throws {
        var copier = ContextCopy()
        try copier.copyEntry(Array(source.utf8), to: Array(destination.utf8))
    }

    private mutating func copyEntry(_ source: [UInt8], to destination: [UInt8]) throws {
        let status = try FileSystem.lstat(source)
        let path = FileSystem.text(destination)
        switch status.kind {
        case .directory:
            try FileSystem.createDirectory(path, mode: 0o700)
            let names = try FileSystem.directoryEntries(source).sorted { !$0.lexicographicallyPrecedes($1) }
            for name in names {
                try copyEntry(source + [0x2f] + name, to: destination + [0x2f] + name)
            }
        case .regular:
            if status.linkCount > 1, let first = links[status.inode] {
                guard link(FileSystem.text(first), path) == 0 else {
                    throw LayersError.system(operation: "link", path: path, errno: errno)
                }
                return
            }
            let input = try OpenFile.regularFile(bytes: source, followSymlinks: false)
            let output = try OpenFile(path: path, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o600)
            let sink = FileSink(file: output, sync: false)
            _ = try FileSource(file: input).copy(to: sink)
            try sink.finish()
            try output.close()
            if status.linkCount > 1 { links[status.inode] = destination }
        case .symlink:
            let target = try FileSystem.readSymlink(source)
            let made = FileSystem.withCString(target) { target in symlink(target, path) }
            guard made == 0 else { throw LayersError.system(operation: "create the symlink", path: path, errno: errno) }
            try touch(path, follow: false)
            return
        default:
            // Sockets, devices and FIFOs are not build inputs bake reads.
            return
        }
        guard chmod(path, mode_t(status.permissions)) == 0 else {
            throw LayersError.system(operation: "chmod", path: path, errno: errno)
        }
        try touch(path, follow: true)
    }

    private mutating func touch(_ path: String, follow: Bool) throws {
        counter += 1
        let time = timespec(tv_sec: Int(Self.firstTime + counter * 61), tv_nsec: Int(counter % 1_000_000_000))
        let times = [time, time]
        guard utimensat(AT_FDCWD, path, times, follow ? 0 : AT_SYMLINK_NOFOLLOW) == 0 else {
            throw LayersError.system(operation: "set the times of", path: path, errno: errno)
        }
    }
}
