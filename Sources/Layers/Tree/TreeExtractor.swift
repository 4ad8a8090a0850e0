import CBakeSystem
import Glibc

/// Unpacks layers into a host folder, safely: every folder on the way to an entry is
/// opened with `O_NOFOLLOW` from the root, so an entry can never write outside the root
/// or through a symlink (one an earlier entry planted included); such entries are refused.
public final class TreeExtractor {
    /// What to do with OCI whiteouts.
    public enum WhiteoutHandling: Sendable {
        /// Delete what they name: the result is the merged root filesystem.
        case apply
        /// Record them as overlayfs does (0/0 character devices, `trusted.overlay.opaque`),
        /// so the folder can serve as an overlay lower dir.
        case overlay
    }

    private let rootPath: String
    private let rootFD: Int32
    private let whiteouts: WhiteoutHandling
    private let preserveOwnership: Bool
    private var createdInLayer: Set<RelativePath> = []
    private var folderMetadata: [RelativePath: (mode: UInt32, mtime: Int64)] = [:]
    private var cachedParent: (path: RelativePath, fd: Int32)?
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
    /// Device nodes skipped because the process may not create them.
    public private(set) var skippedDevices = 0

    /// Extracts into `root`, which must exist and be a folder.
    public init(root: String, whiteouts: WhiteoutHandling, preserveOwnership: Bool = geteuid() == 0) throws {
        let fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw LayersError.system(operation: "open folder", path: root, errno: errno) }
        rootPath = root
        rootFD = fd
        self.whiteouts = whiteouts
        self.preserveOwnership = preserveOwnership
    }

    deinit {
        dropCache()
        close(rootFD)
        buffer.deallocate()
    }

    /// Extracts every entry of one layer.
    public func extract(layer reader: TarReader) throws {
        createdInLayer = []
        while let entry = try reader.next() {
            try extract(entry, content: reader)
        }
    }

    /// Extracts one entry (its content read from `content`), for callers that check each
    /// entry before it is written.
    public func extractOne(_ entry: TarEntry, content: TarReader) throws {
        try extract(entry, content: content)
    }

    /// Sets the modes and times of folders, deepest first (adding files changes a
    /// folder's mtime, and a read-only folder would stop its contents being written).
    public func finish() throws {
        dropCache()
        for (path, metadata) in folderMetadata.sorted(by: { $1.key < $0.key }) {
            let fd: Int32
            if path.isRoot {
                fd = dup(rootFD)
            } else {
                guard let parent = try? openParent(path, create: false) else { continue }
                fd = FileSystem.withCString(path.lastComponent) { openat(parent, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
                close(parent)
            }
            guard fd >= 0 else { continue }
            defer { close(fd) }
            guard fchmod(fd, mode_t(metadata.mode)) == 0 else {
                throw LayersError.system(operation: "set the mode of", path: display(path), errno: errno)
            }
            var times = [timespec(tv_sec: Int(metadata.mtime), tv_nsec: 0), timespec(tv_sec: Int(metadata.mtime), tv_nsec: 0)]
            futimens(fd, &times)
        }
        folderMetadata = [:]
    }

    // MARK: - Entries

    private func extract(_ entry: TarEntry, content: TarReader) throws {
        if let whiteout = entry.whiteout {
            try apply(whiteout, mtime: entry.mtime)
            return
        }
        if entry.path.isRoot {
            if entry.isDirectory {
                try setOwnerAndAttributes(fd: rootFD, entry: entry)
                folderMetadata[.root] = (entry.mode, entry.mtime)
            }
            return
        }
        let parent = try parentFD(entry.path)
        let name = entry.path.lastComponent
        createdInLayer.insert(entry.path)

        if case .directory = entry.kind {
            var st = stat()
            let exists = FileSystem.withCString(name) { fstatat(parent, $0, &st, AT_SYMLINK_NOFOLLOW) } == 0
            if !exists || st.st_mode & S_IFMT != S_IFDIR {
                if exists { try removeChild(parent, name, path: entry.path) }
                guard FileSystem.withCString(name, { mkdirat(parent, $0, 0o700) }) == 0 else {
                    throw LayersError.system(operation: "create folder", path: display(entry.path), errno: errno)
                }
            }
            let fd = FileSystem.withCString(name) { openat(parent, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            guard fd >= 0 else { throw LayersError.system(operation: "open folder", path: display(entry.path), errno: errno) }
            defer { close(fd) }
            try setOwnerAndAttributes(fd: fd, entry: entry)
            // Mode and time are applied in finish(), after the folder's contents exist.
            fchmod(fd, 0o700)
            folderMetadata[entry.path] = (entry.mode, entry.mtime)
            return
        }

        try removeChild(parent, name, path: entry.path)
        switch entry.kind {
        case .regular:
            let fd = FileSystem.withCString(name) {
                openat(parent, $0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            }
            guard fd >= 0 else { throw LayersError.system(operation: "create", path: display(entry.path), errno: errno) }
            let file = OpenFile(adopting: fd, path: display(entry.path))
            while true {
                let got = try content.read(into: buffer)
                if got == 0 { break }
                try file.writeAll(UnsafeRawBufferPointer(rebasing: buffer[0..<got]))
            }
            try setOwnerAndAttributes(fd: fd, entry: entry)
            // chown clears setuid/setgid, so the mode is set after it.
            guard fchmod(fd, mode_t(entry.mode)) == 0 else {
                throw LayersError.system(operation: "set the mode of", path: display(entry.path), errno: errno)
            }
            var times = [timespec(tv_sec: Int(entry.mtime), tv_nsec: 0), timespec(tv_sec: Int(entry.mtime), tv_nsec: 0)]
            futimens(fd, &times)
            try file.close()
        case .symlink(let target):
            let rc = FileSystem.withCString(target) { cTarget in
                FileSystem.withCString(name) { symlinkat(cTarget, parent, $0) }
            }
            guard rc == 0 else { throw LayersError.system(operation: "create symlink", path: display(entry.path), errno: errno) }
            try finishNonRegular(parent, name, entry)
        case .hardlink(let target):
            let targetParent = try openParent(target, create: false)
            defer { close(targetParent) }
            let rc = FileSystem.withCString(target.lastComponent) { cTarget in
                FileSystem.withCString(name) { linkat(targetParent, cTarget, parent, $0, 0) }
            }
            guard rc == 0 else {
                throw LayersError.system(operation: "create hard link to \(target.absoluteDescription) at", path: display(entry.path), errno: errno)
            }
        case .characterDevice(let major, let minor), .blockDevice(let major, let minor):
            let type: mode_t
            if case .characterDevice = entry.kind { type = S_IFCHR } else { type = S_IFBLK }
            let rc = FileSystem.withCString(name) {
                mknodat(parent, $0, type | mode_t(entry.mode & 0o777), dev_t(makeDevice(major: major, minor: minor)))
            }
            if rc != 0 {
                if errno == EPERM && geteuid() != 0 { skippedDevices += 1; return }
                throw LayersError.system(operation: "create device", path: display(entry.path), errno: errno)
            }
            try finishNonRegular(parent, name, entry)
        case .fifo:
            guard FileSystem.withCString(name, { mkfifoat(parent, $0, mode_t(entry.mode & 0o777)) }) == 0 else {
                throw LayersError.system(operation: "create fifo", path: display(entry.path), errno: errno)
            }
            try finishNonRegular(parent, name, entry)
        case .directory:
            break
        }
    }

    private func finishNonRegular(_ parent: Int32, _ name: [UInt8], _ entry: TarEntry) throws {
        if preserveOwnership {
            let rc = FileSystem.withCString(name) {
                fchownat(parent, $0, uid_t(entry.uid), gid_t(entry.gid), AT_SYMLINK_NOFOLLOW)
            }
            guard rc == 0 else { throw LayersError.system(operation: "set the owner of", path: display(entry.path), errno: errno) }
        }
        if case .symlink = entry.kind {} else {
            FileSystem.withCString(name) { _ = fchmodat(parent, $0, mode_t(entry.mode), 0) }
        }
        var times = [timespec(tv_sec: Int(entry.mtime), tv_nsec: 0), timespec(tv_sec: Int(entry.mtime), tv_nsec: 0)]
        FileSystem.withCString(name) { _ = utimensat(parent, $0, &times, AT_SYMLINK_NOFOLLOW) }
    }

    private func setOwnerAndAttributes(fd: Int32, entry: TarEntry) throws {
        if preserveOwnership {
            guard fchown(fd, uid_t(entry.uid), gid_t(entry.gid)) == 0 else {
                throw LayersError.system(operation: "set the owner of", path: display(entry.path), errno: errno)
            }
        }
        // overlayfs' own attributes are never taken from a layer: in an unpacked lower dir they
        // would redirect or hide paths.
        for (key, value) in entry.xattrs.sorted(by: { $0.key < $1.key }) where !key.hasPrefix("trusted.overlay.") {
            let rc = value.withUnsafeBytes { fsetxattr(fd, key, $0.baseAddress, $0.count, 0) }
            if rc != 0 && !(errno == EPERM || errno == ENOTSUP) {
                throw LayersError.system(operation: "set attribute \(key) on", path: display(entry.path), errno: errno)
            }
        }
    }

    private func apply(_ whiteout: Whiteout, mtime: Int64) throws {
        switch (whiteout, whiteouts) {
        case (.remove(let path), .apply):
            guard let parent = try? openParent(path, create: false) else { return }
            defer { close(parent) }
            try removeChild(parent, path.lastComponent, path: path)
        case (.opaque(let directory), .apply):
            let fd = try openDirectory(directory, create: true)
            defer { close(fd) }
            for name in try FileSystem.directoryEntries(fd: fd, describedAs: display(directory)) {
                let child = directory.appending(name)
                if !createdInLayer.contains(child) { try removeChild(fd, name, path: child) }
            }
        case (.remove(let path), .overlay):
            let parent = try parentFD(path)
            try removeChild(parent, path.lastComponent, path: path)
            let rc = FileSystem.withCString(path.lastComponent) { mknodat(parent, $0, S_IFCHR | 0o000, 0) }
            guard rc == 0 else { throw LayersError.system(operation: "create whiteout", path: display(path), errno: errno) }
            createdInLayer.insert(path)
        case (.opaque(let directory), .overlay):
            let fd = try openDirectory(directory, create: true)
            defer { close(fd) }
            let value: [UInt8] = [UInt8(ascii: "y")]
            let rc = value.withUnsafeBytes { fsetxattr(fd, "trusted.overlay.opaque", $0.baseAddress, 1, 0) }
            guard rc == 0 else { throw LayersError.system(operation: "mark opaque", path: display(directory), errno: errno) }
        }
    }

    // MARK: - Safe path handling

    private func parentFD(_ path: RelativePath) throws -> Int32 {
        let parent = path.parent ?? .root
        if let cached = cachedParent, cached.path == parent { return cached.fd }
        dropCache()
        let fd = try openDirectory(parent, create: true)
        cachedParent = (parent, fd)
        return fd
    }

    private func dropCache() {
        if let cached = cachedParent { close(cached.fd) }
        cachedParent = nil
    }

    /// Opens the parent folder of `path` (caller closes it).
    private func openParent(_ path: RelativePath, create: Bool) throws -> Int32 {
        try openDirectory(path.parent ?? .root, create: create)
    }

    /// Opens a folder below the root without following any symlink; missing folders are
    /// created (0755, root) when `create` is set. The caller closes the descriptor.
    private func openDirectory(_ path: RelativePath, create: Bool) throws -> Int32 {
        var fd = dup(rootFD)
        guard fd >= 0 else { throw LayersError.system(operation: "dup", path: rootPath, errno: errno) }
        var current = RelativePath.root
        for component in path.components {
            current = current.appending(component)
            var next = FileSystem.withCString(component) { openat(fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            if next < 0 && errno == ENOENT && create {
                if FileSystem.withCString(component, { mkdirat(fd, $0, 0o755) }) != 0 && errno != EEXIST {
                    let code = errno
                    close(fd)
                    throw LayersError.system(operation: "create folder", path: display(current), errno: code)
                }
                next = FileSystem.withCString(component) { openat(fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            }
            let code = errno
            close(fd)
            if next < 0 {
                if code == ELOOP || code == ENOTDIR {
                    throw LayersError.unsafeEntry(path: path.description, reason: "\(current.absoluteDescription) is a symlink or not a folder")
                }
                throw LayersError.system(operation: "open folder", path: display(current), errno: code)
            }
            fd = next
        }
        return fd
    }

    /// Removes `name` inside the folder `parent` (a whole tree if it is a folder).
    private func removeChild(_ parent: Int32, _ name: [UInt8], path: RelativePath) throws {
        // The cached parent descriptor must not point into the tree being removed.
        if let cached = cachedParent, cached.fd != parent, cached.path == path || path.isAncestor(of: cached.path) { dropCache() }
        try FileSystem.removeEntry(named: name, in: parent, describedAs: display(path))
    }

    private func display(_ path: RelativePath) -> String {
        path.isRoot ? rootPath : rootPath + "/" + path.description
    }
}
