import CBakeSystem
import Glibc

/// An advisory lock on the store (`flock` on `.bake/lock`): shared for readers, exclusive
/// for writers, so two bake processes never corrupt the store. Released when the value
/// goes away, or by the kernel when the process dies however it dies.
///
/// A reader of a store it may not write (a read-only mount, another user's store) takes the
/// shared lock on the lock file opened read-only, and goes without one when there is no
/// lock file to open: nothing can write such a store, and every write bake makes is an
/// atomic rename a reader sees whole or not at all.
public final class StoreLock {
    private let fd: Int32

    /// Takes the lock without waiting; throws `EWOULDBLOCK` when another process holds it.
    public convenience init(path: String, exclusive: Bool, wait: Bool) throws {
        try self.init(path: path, exclusive: exclusive, nonBlocking: !wait, onWait: {})
    }

    /// Takes the lock, calling `onWait` once if another process holds it first.
    public convenience init(path: String, exclusive: Bool, onWait: () -> Void) throws {
        try self.init(path: path, exclusive: exclusive, nonBlocking: false, onWait: onWait)
    }

    private init(path: String, exclusive: Bool, nonBlocking: Bool, onWait: () -> Void) throws {
        var fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if fd < 0 && (errno == EROFS || errno == EACCES || errno == EPERM) {
            let code = errno
            guard !exclusive else {
                throw LayersError.store("the store \(FileSystem.parent(of: path)) is read-only (\(String(cString: strerror(code)))): "
                    + "this command writes to it; give --store a folder bake may write")
            }
            fd = open(path, O_RDONLY | O_CLOEXEC)
            if fd < 0 && errno == ENOENT {
                self.fd = -1
                return
            }
        }
        guard fd >= 0 else { throw LayersError.system(operation: "open lock file", path: path, errno: errno) }
        let operation = exclusive ? LOCK_EX : LOCK_SH
        if flock(fd, operation | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK, !nonBlocking else {
                let code = errno
                close(fd)
                throw LayersError.system(operation: "lock", path: path, errno: code)
            }
            onWait()
            while flock(fd, operation) != 0 {
                if errno == EINTR { continue }
                let code = errno
                close(fd)
                throw LayersError.system(operation: "lock", path: path, errno: code)
            }
        }
        self.fd = fd
    }

    deinit {
        guard fd >= 0 else { return }
        flock(fd, LOCK_UN)
        close(fd)
    }
}
