import Glibc

extension FileSystem {
    /// Removes `name` inside the open folder `parent`, a whole tree if it is a folder; no
    /// error if it is not there. No path is ever built: every call is relative to an open
    /// folder (`unlinkat` from the opened parent), so a tree of any depth and any path
    /// length goes, with at most two descriptors open whatever the depth. No symlink is
    /// followed (a symlink is removed, not what it points to). Folders their owner may not
    /// enter or write (a copied read-only tree) are made writable first.
    ///
    /// Walking back up uses `..`, checked against the folder bake came down from, so a
    /// folder moved away meanwhile is an error, never a removal somewhere else.
    public static func removeEntry(named name: [UInt8], in parent: Int32, describedAs shown: String) throws {
        guard RelativePath.isValidComponent(name) else {
            throw LayersError.unsafeEntry(path: shown, reason: "it does not name a file")
        }
        if try unlinkIfNotFolder(name, in: parent, shown: shown, parentIsInTree: false) { return }

        struct Frame {
            let name: [UInt8]
            let device: UInt64
            let inode: UInt64
            var remaining: [[UInt8]]
        }
        func frame(_ fd: Int32, _ name: [UInt8], _ shown: String) throws -> Frame {
            var st = stat()
            guard fstat(fd, &st) == 0 else { throw LayersError.system(operation: "stat", path: shown, errno: errno) }
            let names = try directoryEntries(fd: fd, describedAs: shown)
            return Frame(name: name, device: UInt64(st.st_dev), inode: UInt64(st.st_ino), remaining: names.reversed())
        }
        func display(_ stack: [Frame], _ child: [UInt8]? = nil) -> String {
            let names = stack.dropFirst().map { text($0.name) } + (child.map { [text($0)] } ?? [])
            return ([shown] + names).joined(separator: "/")
        }

        guard let first = try openFolder(name, in: parent, shown: shown) else { return }
        var current = first
        var stack: [Frame]
        do { stack = [try frame(current, name, shown)] } catch { close(current); throw error }
        defer { if current != parent { close(current) } }
        while !stack.isEmpty {
            if let child = stack[stack.count - 1].remaining.popLast() {
                let childShown = display(stack, child)
                if try unlinkIfNotFolder(child, in: current, shown: childShown, parentIsInTree: true) { continue }
                guard let childFD = try openFolder(child, in: current, shown: childShown) else { continue }
                let childFrame: Frame
                do { childFrame = try frame(childFD, child, childShown) } catch { close(childFD); throw error }
                close(current)
                current = childFD
                stack.append(childFrame)
                continue
            }
            // The folder on top is empty now: go up one level and remove it.
            let done = stack.removeLast()
            let up: Int32
            if let below = stack.last {
                up = openat(current, "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard up >= 0 else { throw LayersError.system(operation: "open the folder above", path: display(stack + [done]), errno: errno) }
                var st = stat()
                guard fstat(up, &st) == 0, UInt64(st.st_dev) == below.device, UInt64(st.st_ino) == below.inode else {
                    close(up)
                    throw LayersError.unsafeEntry(path: display(stack), reason: "it was moved while bake removed it")
                }
            } else {
                up = parent
            }
            close(current)
            current = up
            let removed = withCString(done.name) { unlinkat(up, $0, AT_REMOVEDIR) } == 0
            guard removed || errno == ENOENT else {
                throw LayersError.system(operation: "remove", path: display(stack + [done]), errno: errno)
            }
        }
    }

    /// Unlinks `name` unless it is a folder: true when it is gone (or was never there). The
    /// mode of `parent` is changed only when it is part of the tree being removed.
    private static func unlinkIfNotFolder(_ name: [UInt8], in parent: Int32, shown: String, parentIsInTree: Bool) throws -> Bool {
        for attempt in 0..<2 {
            if withCString(name, { unlinkat(parent, $0, 0) }) == 0 { return true }
            switch errno {
            case ENOENT:
                return true
            case EISDIR:
                return false
            case EPERM:
                // Linux says EPERM for unlink(2) of a folder on some file systems.
                var st = stat()
                if withCString(name, { fstatat(parent, $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0, st.st_mode & S_IFMT == S_IFDIR {
                    return false
                }
                throw LayersError.system(operation: "remove", path: shown, errno: EPERM)
            case EACCES where attempt == 0 && parentIsInTree:
                // The folder holding it is read-only to its owner: make it writable, try again.
                _ = fchmod(parent, 0o700)
            default:
                throw LayersError.system(operation: "remove", path: shown, errno: errno)
            }
        }
        throw LayersError.system(operation: "remove", path: shown, errno: EACCES)
    }

    /// Opens the folder `name` in `parent` without following a symlink, making it
    /// enterable first if its owner may not read or enter it; nil when it is gone.
    private static func openFolder(_ name: [UInt8], in parent: Int32, shown: String) throws -> Int32? {
        for attempt in 0..<2 {
            let fd = withCString(name) { openat(parent, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            if fd >= 0 {
                // A folder its owner cannot write keeps its entries: make it writable.
                var st = stat()
                if fstat(fd, &st) == 0, st.st_mode & 0o700 != 0o700 { _ = fchmod(fd, (st.st_mode & 0o7777) | 0o700) }
                return fd
            }
            if errno == ENOENT { return nil }
            guard errno == EACCES, attempt == 0 else {
                throw LayersError.system(operation: "open folder", path: shown, errno: errno)
            }
            _ = withCString(name) { fchmodat(parent, $0, 0o700, 0) }
        }
        throw LayersError.system(operation: "open folder", path: shown, errno: EACCES)
    }
}
