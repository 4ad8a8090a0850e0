import CBakeSystem
import Glibc

/// Thin, throwing wrappers over the POSIX calls Layers needs. Paths are C strings built
/// from bytes, so names that are not UTF-8 survive.
public enum FileSystem {
    /// `lstat(path)`; nil when the path does not exist.
    public static func lstatIfExists(_ path: String) throws -> FileStatus? {
        var st = stat()
        if Glibc.lstat(path, &st) == 0 { return FileStatus(st) }
        if errno == ENOENT || errno == ENOTDIR { return nil }
        throw LayersError.system(operation: "stat", path: path, errno: errno)
    }

    /// `lstat(path)`.
    public static func lstatPath(_ path: String) throws -> FileStatus {
        var st = stat()
        guard Glibc.lstat(path, &st) == 0 else { throw LayersError.system(operation: "stat", path: path, errno: errno) }
        return FileStatus(st)
    }

    /// `stat(path)` (follows symlinks).
    public static func statPath(_ path: String) throws -> FileStatus {
        var st = stat()
        guard stat(path, &st) == 0 else { throw LayersError.system(operation: "stat", path: path, errno: errno) }
        return FileStatus(st)
    }

    /// `lstat` of a name given as bytes inside a directory path.
    public static func lstat(_ path: [UInt8]) throws -> FileStatus {
        var st = stat()
        let rc = withCString(path) { Glibc.lstat($0, &st) }
        guard rc == 0 else { throw LayersError.system(operation: "stat", path: text(path), errno: errno) }
        return FileStatus(st)
    }

    /// The names in a directory, excluding `.` and `..`, sorted by their bytes. The last
    /// component of `path` must not be a symlink.
    public static func directoryEntries(_ path: [UInt8]) throws -> [[UInt8]] {
        let fd = withCString(path) { open($0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        guard fd >= 0 else { throw LayersError.system(operation: "open folder", path: text(path), errno: errno) }
        defer { close(fd) }
        return try directoryEntries(fd: fd, describedAs: text(path))
    }

    /// The names in an open directory, excluding `.` and `..`, sorted by their bytes.
    public static func directoryEntries(fd: Int32, describedAs path: String) throws -> [[UInt8]] {
        let copy = dup(fd)
        guard copy >= 0, let dir = fdopendir(copy) else {
            throw LayersError.system(operation: "open folder", path: path, errno: errno)
        }
        defer { closedir(dir) }
        rewinddir(dir)
        var names: [[UInt8]] = []
        while true {
            errno = 0
            guard let entry = readdir(dir) else {
                if errno != 0 { throw LayersError.system(operation: "read folder", path: path, errno: errno) }
                break
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw -> [UInt8] in
                let bytes = raw.bindMemory(to: UInt8.self)
                let length = bytes.firstIndex(of: 0) ?? bytes.count
                return Array(bytes[0..<length])
            }
            if name == [0x2e] || name == [0x2e, 0x2e] { continue }
            names.append(name)
        }
        // Sorted by bytes: readdir order depends on the file system and must never leak.
        names.sort { $0.lexicographicallyPrecedes($1) }
        return names
    }

    /// The target of a symlink, as bytes.
    public static func readSymlink(_ path: [UInt8]) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = withCString(path) { cPath in
            buffer.withUnsafeMutableBytes { readlink(cPath, $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count) }
        }
        guard count >= 0 else { throw LayersError.system(operation: "read symlink", path: text(path), errno: errno) }
        return Array(buffer[0..<count])
    }

    /// The extended attributes of a path (not following a final symlink), sorted by name.
    /// Attributes in `excludingPrefixes` are left out.
    public static func extendedAttributes(_ path: [UInt8], excludingPrefixes: [String] = []) throws -> [String: [UInt8]] {
        var size = withCString(path) { llistxattr($0, nil, 0) }
        if size < 0 {
            if errno == ENOTSUP || errno == ENODATA { return [:] }
            throw LayersError.system(operation: "list attributes of", path: text(path), errno: errno)
        }
        if size == 0 { return [:] }
        var names = [CChar](repeating: 0, count: size)
        size = withCString(path) { llistxattr($0, &names, names.count) }
        guard size >= 0 else { throw LayersError.system(operation: "list attributes of", path: text(path), errno: errno) }
        var result: [String: [UInt8]] = [:]
        let bytes = names[0..<size].map { UInt8(bitPattern: $0) }
        for nameBytes in bytes.split(separator: 0) {
            let name = String(decoding: nameBytes, as: UTF8.self)
            if excludingPrefixes.contains(where: { name.hasPrefix($0) }) { continue }
            let valueSize = withCString(path) { lgetxattr($0, name, nil, 0) }
            if valueSize < 0 {
                if errno == ENODATA { continue }
                throw LayersError.system(operation: "read attribute \(name) of", path: text(path), errno: errno)
            }
            var value = [UInt8](repeating: 0, count: valueSize)
            let read = withCString(path) { cPath in value.withUnsafeMutableBytes { lgetxattr(cPath, name, $0.baseAddress, $0.count) } }
            guard read >= 0 else { throw LayersError.system(operation: "read attribute \(name) of", path: text(path), errno: errno) }
            result[name] = Array(value[0..<read])
        }
        return result
    }

    /// Sets an extended attribute on a path (not following a final symlink).
    public static func setExtendedAttribute(_ path: [UInt8], name: String, value: [UInt8]) throws {
        let rc = withCString(path) { cPath in value.withUnsafeBytes { lsetxattr(cPath, name, $0.baseAddress, $0.count, 0) } }
        guard rc == 0 else { throw LayersError.system(operation: "set attribute \(name) on", path: text(path), errno: errno) }
    }

    /// `mkdir -p`.
    public static func createDirectory(_ path: String, mode: mode_t = 0o755) throws {
        var st = stat()
        if stat(path, &st) == 0 {
            if st.st_mode & S_IFMT == S_IFDIR { return }
            throw LayersError.system(operation: "create folder", path: path, errno: EEXIST)
        }
        let parent = Self.parent(of: path)
        if parent != path { try createDirectory(parent, mode: mode) }
        if mkdir(path, mode) != 0 && errno != EEXIST {
            throw LayersError.system(operation: "create folder", path: path, errno: errno)
        }
    }

    /// Removes a file or a whole tree; no error if it does not exist.
    public static func removeTree(_ path: String) throws {
        try removeTree(bytes: Array(path.utf8))
    }

    /// Removes a file or a whole tree given as bytes; no error if it does not exist. The
    /// last component is never followed (a symlink is removed, not its target), and the
    /// tree is removed from opened folders (`removeEntry(named:in:describedAs:)`), so
    /// neither its depth nor the length of its paths can stop it.
    public static func removeTree(bytes path: [UInt8]) throws {
        var trimmed = path
        while trimmed.count > 1 && trimmed.last == 0x2f { trimmed.removeLast() }
        let slash = trimmed.lastIndex(of: 0x2f)
        let parentPath: [UInt8] = slash.map { $0 == 0 ? [0x2f] : Array(trimmed[..<$0]) } ?? [0x2e]
        let name = slash.map { Array(trimmed[($0 + 1)...]) } ?? trimmed
        let parent = withCString(parentPath) { open($0, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        guard parent >= 0 else {
            if errno == ENOENT || errno == ENOTDIR { return }
            throw LayersError.system(operation: "open folder", path: text(parentPath), errno: errno)
        }
        defer { close(parent) }
        try removeEntry(named: name, in: parent, describedAs: text(trimmed))
    }

    /// `rename(from, to)`.
    public static func rename(_ from: String, _ to: String) throws {
        guard Glibc.rename(from, to) == 0 else {
            throw LayersError.system(operation: "rename \(from) to", path: to, errno: errno)
        }
    }

    /// fsyncs a directory so a rename in it survives a crash.
    public static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }

    /// Reads a whole (small) file: a regular file (a named pipe or a device is refused,
    /// never waited on: see `OpenFile.regularFile`) of at most `limit` bytes.
    public static func readFile(_ path: String, limit: Int = 64 << 20) throws -> [UInt8] {
        let file = try OpenFile.regularFile(path)
        var result: [UInt8] = []
        if let size = try? file.status().size, size > 0 { result.reserveCapacity(Int(min(size, Int64(limit))) + 1) }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = try buffer.withUnsafeMutableBytes { try file.read(into: $0) }
            if count == 0 { break }
            result.append(contentsOf: buffer[0..<count])
            if result.count > limit {
                throw LayersError.tooLarge(path: path, limit: Int64(limit))
            }
        }
        return result
    }

    /// Replaces `path` atomically: `write` fills a new temporary file in `temporaryFolder`
    /// (which must be on the same file system), which is then fsynced and renamed over
    /// `path`. On any error the temporary file is removed and `path` is left as it was.
    /// The temporary file is staged (`.bake-tmp-*`, locked while written): one a killed
    /// bake left is removed by `removeAbandonedStaging(in:)`.
    public static func replaceAtomically(
        _ path: String, temporaryFolder: String, _ write: (OpenFile) throws -> Void
    ) throws {
        let file = try makeTemporaryFile(in: temporaryFolder, prefix: stagingPrefix)
        // Held until the descriptor closes; rename keeps it (the lock is on the file).
        _ = flock(file.fd, LOCK_EX | LOCK_NB)
        do {
            try write(file)
            try file.sync()
            try file.close()
            try rename(file.path, path)
            syncDirectory(parent(of: path))
        } catch {
            unlink(file.path)
            throw error
        }
    }

    /// Creates a new folder `DIR/PREFIX-XXXXXX` with mkdtemp and gives it `mode` (whatever
    /// the umask); returns its path.
    public static func makeTemporaryDirectory(in directory: String, prefix: String, mode: mode_t = 0o700) throws -> String {
        var template = Array("\(directory)/\(prefix)-XXXXXX".utf8)
        template.append(0)
        let made = template.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) { mkdtemp($0) }
        }
        guard made != nil else { throw LayersError.system(operation: "create a temporary folder in", path: directory, errno: errno) }
        template.removeLast()
        let path = String(decoding: template, as: UTF8.self)
        guard chmod(path, mode) == 0 else { throw LayersError.system(operation: "chmod", path: path, errno: errno) }
        return path
    }

    /// Creates a new file `DIR/PREFIX-XXXXXX` (mode 0644 whatever the umask) with mkstemp.
    public static func makeTemporaryFile(in directory: String, prefix: String) throws -> OpenFile {
        var template = Array("\(directory)/\(prefix)-XXXXXX".utf8)
        template.append(0)
        let fd = template.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) { mkstemp($0) }
        }
        guard fd >= 0 else {
            throw LayersError.system(operation: "create a temporary file in", path: directory, errno: errno)
        }
        template.removeLast()
        fchmod(fd, 0o644)
        return OpenFile(adopting: fd, path: String(decoding: template, as: UTF8.self))
    }

    /// The parent folder of a path string.
    public static func parent(of path: String) -> String {
        var bytes = Array(path.utf8)
        while bytes.count > 1 && bytes.last == 0x2f { bytes.removeLast() }
        guard let slash = bytes.lastIndex(of: 0x2f) else { return "." }
        if slash == 0 { return "/" }
        return String(decoding: bytes[..<slash], as: UTF8.self)
    }

    /// `realpath(3)`, or nil if the path does not resolve.
    public static func realPath(_ path: String) -> String? {
        guard let resolved = Glibc.realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Calls `body` with a NUL-terminated copy of `bytes`.
    public static func withCString<T>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) throws -> T) rethrows -> T {
        var terminated = bytes
        terminated.append(0)
        return try terminated.withUnsafeBufferPointer { buffer in
            try buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) { try body($0) }
        }
    }

    /// Bytes as text for messages.
    public static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
}

