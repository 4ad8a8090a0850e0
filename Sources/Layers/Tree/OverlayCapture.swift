import CBakeSystem
import Glibc

/// Turns an overlayfs upper dir into layer entries: deletions (0/0 character devices)
/// become `.wh.NAME`, opaque folders (`trusted.overlay.opaque`) become `.wh..wh..opq`,
/// files copied up but not changed are left out, mtimes are clamped to the build time,
/// and overlayfs' own `trusted.overlay.*` attributes are dropped.
///
/// Files are reached from opened folders (the walker's short paths, then `openat2` beneath
/// the upper or lower root, never through a symlink), never by their full host path, so
/// an image path as long as Linux allows is captured whatever the host folder above it.
public struct OverlayCapture {
    /// The upper dir.
    public let upper: String
    /// The image below (what a path was before the step).
    public let lower: ImageFilesystem
    /// The host folder (an unpacked layer) holding the version of a regular file of the
    /// image below, to compare contents; the file is at the same relative path in it.
    public let lowerFolder: (RelativePath) -> String?
    /// The build time: no mtime goes past it.
    public let epoch: Int64

    public init(upper: String, lower: ImageFilesystem, lowerFolder: @escaping (RelativePath) -> String?, epoch: Int64) {
        self.upper = upper
        self.lower = lower
        self.lowerFolder = lowerFolder
        self.epoch = epoch
    }

    private struct Item {
        var entry: TarEntry
        /// True for a regular file whose content goes into the layer.
        var hasContent: Bool
    }

    /// Opens the regular file at `path` below the folder `root` without following any
    /// symlink on the way.
    static func openBeneath(_ root: Int32, _ path: RelativePath, shown: String) throws -> OpenFile {
        let fd = FileSystem.withCString(path.bytes) { bake_open_beneath(root, $0, O_RDONLY | O_NONBLOCK | O_CLOEXEC) }
        guard fd >= 0 else { throw LayersError.system(operation: "open", path: shown, errno: errno) }
        let file = OpenFile(adopting: fd, path: shown)
        let status = try file.status()
        guard status.kind == .regular else { throw LayersError.notRegularFile(path: shown, kind: status.kind) }
        return file
    }

    /// Writes the changed entries to `tar` in canonical order and returns them.
    public func write(into tar: TarWriter) throws -> [TarEntry] {
        var items: [Item] = []
        // Folders the step replaced (opaque): nothing below them counts as "below" any more.
        var opaque: [RelativePath] = []
        // Regular files with more than one link, by inode, to rejoin them after filtering.
        var linkedPaths: [UInt64: [RelativePath]] = [:]
        try DirectoryWalker.walk(Array(upper.utf8)) { file in
            let path = file.path
            let status = file.status
            guard path.bytes.count <= TarReader.maximumPathLength else {
                throw LayersError.unsupported(
                    "\(RelativePath.abbreviated(path.bytes)) is \(path.bytes.count + 1) bytes long as an image path; Linux paths are at most \(TarReader.maximumPathLength + 1)")
            }
            let hidden = opaque.contains { $0.isAncestor(of: path) }
            let below = hidden ? nil : lower.entry(at: path)
            if status.kind == .characterDevice && status.rdev == 0 {
                // A deletion. Something made and removed within the step leaves no trace.
                if below != nil {
                    let marker = Whiteout.remove(path).entryPath
                    items.append(Item(entry: TarEntry(path: marker, kind: .regular(size: 0), mode: 0o600, mtime: epoch), hasContent: false))
                }
                return
            }
            let attributes = try FileSystem.extendedAttributes(file.shortPath, excludingPrefixes: [])
            var xattrs = attributes.filter { !$0.key.hasPrefix("trusted.overlay.") }
            xattrs = xattrs.filter { !$0.key.hasPrefix("security.selinux") }
            let mtime = min(status.modificationSeconds, epoch)
            var kind: TarEntry.Kind
            switch status.kind {
            case .directory:
                kind = .directory
                if attributes["trusted.overlay.opaque"] == [0x79] {
                    opaque.append(path)
                    if below?.isDirectory == true {
                        let marker = Whiteout.opaque(directory: path).entryPath
                        items.append(Item(entry: TarEntry(path: marker, kind: .regular(size: 0), mode: 0o600, mtime: epoch), hasContent: false))
                    }
                }
            case .regular:
                kind = .regular(size: status.size)
            case .symlink:
                kind = .symlink(target: try FileSystem.readSymlink(file.shortPath))
            case .characterDevice:
                kind = .characterDevice(major: status.deviceMajor, minor: status.deviceMinor)
            case .blockDevice:
                kind = .blockDevice(major: status.deviceMajor, minor: status.deviceMinor)
            case .fifo:
                kind = .fifo
            case .socket:
                return  // a socket cannot be archived; it is runtime state
            }
            let entry = TarEntry(path: path, kind: kind, mode: status.permissions, uid: status.uid, gid: status.gid,
                                 mtime: mtime, xattrs: xattrs)
            if case .regular = kind, let below, try unchanged(entry, upperFile: file.shortPath, below: below) { return }
            if case .symlink = kind, let below, below.kind == entry.kind, below.uid == entry.uid, below.gid == entry.gid { return }
            if case .regular = kind, status.linkCount > 1 { linkedPaths[status.inode, default: []].append(path) }
            items.append(Item(entry: entry, hasContent: status.kind == .regular))
        }
        // Files linked to each other: the first kept path (in archive order) carries the
        // content, the others become hard links to it. A path left out as unchanged is no
        // target, so no link points outside the layer.
        var linkTarget: [RelativePath: RelativePath] = [:]
        for paths in linkedPaths.values where paths.count > 1 {
            let sorted = paths.sorted()
            for other in sorted.dropFirst() { linkTarget[other] = sorted[0] }
        }
        for index in items.indices {
            if let target = linkTarget[items[index].entry.path] {
                items[index].entry.kind = .hardlink(target: target)
                items[index].hasContent = false
            }
        }
        // Folders copied up only because something inside them changed, and whose own
        // metadata did not, are kept only as the parents of what did change: when all that
        // changed inside was normalised away (`apt-get update`'s lists), none is kept.
        let redeclared = Set(items.lazy.map(\.entry).filter { entry in
            guard entry.isDirectory, !opaque.contains(entry.path), let below = lower.entry(at: entry.path), below.isDirectory,
                  !opaque.contains(where: { $0.isAncestor(of: entry.path) })
            else { return false }
            return below.mode == entry.mode && below.uid == entry.uid && below.gid == entry.gid && below.xattrs == entry.xattrs
        }.map(\.path))
        var kept = Set<RelativePath>()
        for item in items where !redeclared.contains(item.entry.path) { kept.formUnion(item.entry.path.ancestors) }
        items.removeAll { redeclared.contains($0.entry.path) && !kept.contains($0.entry.path) }
        items.sort { $0.entry.path < $1.entry.path }
        var entries: [TarEntry] = []
        let upperFD = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard upperFD >= 0 else { throw LayersError.system(operation: "open folder", path: upper, errno: errno) }
        defer { close(upperFD) }
        for item in items {
            if case .regular = item.entry.kind, item.hasContent {
                let file = try Self.openBeneath(upperFD, item.entry.path, shown: upper + "/" + RelativePath.abbreviated(item.entry.path.bytes))
                try tar.append(item.entry, contentOf: file)
            } else {
                try tar.append(item.entry)
            }
            entries.append(item.entry)
        }
        return entries
    }

    /// A regular file identical (content, mode, owner, attributes) to the one below.
    /// `upperFile` is a path of the upper file valid during the walk (a short one).
    private func unchanged(_ entry: TarEntry, upperFile: [UInt8], below: TarEntry) throws -> Bool {
        guard case .regular(let size) = entry.kind, case .regular(let belowSize) = below.kind, size == belowSize,
              entry.mode == below.mode, entry.uid == below.uid, entry.gid == below.gid, entry.xattrs == below.xattrs,
              let folder = lowerFolder(entry.path)
        else { return false }
        let upperStatus = try FileSystem.lstat(upperFile)
        let lowerFD = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard lowerFD >= 0 else { throw LayersError.system(operation: "open folder", path: folder, errno: errno) }
        defer { close(lowerFD) }
        let lowerFile = try Self.openBeneath(lowerFD, entry.path, shown: folder + "/" + RelativePath.abbreviated(entry.path.bytes))
        let lowerStatus = try lowerFile.status()
        return try FileSystem.sha256(ofFile: upperFile, expecting: upperStatus)
            == FileSystem.sha256(of: lowerFile, expecting: lowerStatus)
    }
}
