import Glibc

/// An open file descriptor, closed when the value goes away.
public final class OpenFile {
    /// The descriptor.
    public let fd: Int32
    /// The path it was opened with, for messages.
    public let path: String
    private var isClosed = false

    /// Opens `path` with `flags` (O_CLOEXEC is always added).
    public init(path: String, flags: Int32, mode: mode_t = 0o644) throws {
        let fd = open(path, flags | O_CLOEXEC, mode)
        guard fd >= 0 else { throw LayersError.system(operation: "open", path: path, errno: errno) }
        self.fd = fd
        self.path = path
    }

    /// Opens a path given as bytes.
    public init(bytes: [UInt8], flags: Int32, mode: mode_t = 0o644) throws {
        let fd = FileSystem.withCString(bytes) { open($0, flags | O_CLOEXEC, mode) }
        let path = FileSystem.text(bytes)
        guard fd >= 0 else { throw LayersError.system(operation: "open", path: path, errno: errno) }
        self.fd = fd
        self.path = path
    }

    /// Takes ownership of an already open descriptor.
    public init(adopting fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit {
        if !isClosed { Glibc.close(fd) }
    }

    /// Reads up to `buffer.count` bytes; 0 at end of file.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            if errno == EINTR { continue }
            throw LayersError.system(operation: "read", path: path, errno: errno)
        }
    }

    /// Writes all of `bytes`.
    public func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let count = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if count < 0 {
                if errno == EINTR { continue }
                throw LayersError.system(operation: "write", path: path, errno: errno)
            }
            offset += count
        }
    }

    /// `fstat`.
    public func status() throws -> FileStatus {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw LayersError.system(operation: "stat", path: path, errno: errno) }
        return FileStatus(st)
    }

    /// `fsync`.
    public func sync() throws {
        guard fsync(fd) == 0 else { throw LayersError.system(operation: "sync", path: path, errno: errno) }
    }

    /// Closes now, reporting a failed close (which can mean lost writes).
    public func close() throws {
        guard !isClosed else { return }
        isClosed = true
        guard Glibc.close(fd) == 0 else { throw LayersError.system(operation: "close", path: path, errno: errno) }
    }
}
