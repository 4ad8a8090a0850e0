import CBakeSystem
import Glibc

/// An advisory lock on the store (`flock` on `.bake/lock`): shared for readers, exclusive
/// for writers, so two bake processes never corrupt the store. Released when the value
/// goes away, or by the kernel when the process dies however it dies.
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
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
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
        flock(fd, LOCK_UN)
        close(fd)
    }
}
