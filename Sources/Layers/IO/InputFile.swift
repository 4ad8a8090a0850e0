import Glibc

extension OpenFile {
    /// Opens a file bake reads as input (a stage file, bake.lock, a base's index or blob, a
    /// rootfs tarball, a secret, a blob of the store) without ever blocking: the open is
    /// non-blocking, so a named pipe or a device is refused instead of waited on (forever,
    /// if nothing writes to it), and the opened descriptor is checked with `fstat`, so a
    /// file swapped after a check cannot slip through. Anything but a regular file is
    /// `LayersError.notRegularFile`; with `followSymlinks: false` a symlink is too.
    ///
    /// Every reader of inputs opens through here: one place decides what an input may be.
    public static func regularFile(_ path: String, followSymlinks: Bool = true) throws -> OpenFile {
        try regularFile(bytes: Array(path.utf8), followSymlinks: followSymlinks)
    }

    /// `regularFile(_:followSymlinks:)` for a path given as bytes.
    public static func regularFile(bytes path: [UInt8], followSymlinks: Bool = true) throws -> OpenFile {
        let shown = FileSystem.text(path)
        // A device is refused before it is opened: opening some (a tape, a terminal) acts.
        var st = stat()
        let found = FileSystem.withCString(path) { followSymlinks ? stat($0, &st) : Glibc.lstat($0, &st) } == 0
        guard found else { throw LayersError.system(operation: "open", path: shown, errno: errno) }
        let before = FileStatus(st)
        guard before.kind == .regular else { throw LayersError.notRegularFile(path: shown, kind: before.kind) }
        let flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | (followSymlinks ? 0 : O_NOFOLLOW)
        let fd = FileSystem.withCString(path) { open($0, flags) }
        guard fd >= 0 else {
            if errno == ELOOP && !followSymlinks { throw LayersError.notRegularFile(path: shown, kind: .symlink) }
            throw LayersError.system(operation: "open", path: shown, errno: errno)
        }
        let file = OpenFile(adopting: fd, path: shown)
        let status = try file.status()
        guard status.kind == .regular else { throw LayersError.notRegularFile(path: shown, kind: status.kind) }
        // Reads of a regular file never block anyway; clear the flag so the descriptor
        // behaves like any other.
        let current = fcntl(fd, F_GETFL)
        if current >= 0 { _ = fcntl(fd, F_SETFL, current & ~O_NONBLOCK) }
        return file
    }
}

extension FileStatus.Kind {
    /// "a named pipe", "a folder": what the kind is called in messages.
    public var article: String {
        switch self {
        case .regular: return "a regular file"
        case .directory: return "a folder"
        case .symlink: return "a symlink"
        case .characterDevice: return "a character device"
        case .blockDevice: return "a block device"
        case .fifo: return "a named pipe"
        case .socket: return "a socket"
        }
    }
}
