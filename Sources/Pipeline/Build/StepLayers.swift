import Glibc
import Layers

/// A mistake in a step's input that only the build can see (a path missing from the image
/// below, an unknown user). The builder adds the step's location.
struct StepInputError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// Writes the layer of a `copy` step: the source's files with the modes git would record
/// (0755 when the owner may execute, else 0644; folders 0755), owner 0:0 unless `owner:`,
/// every mtime the build time. Folders on the way that exist below keep their metadata;
/// missing ones are created 0755, owned by root. Symlinks are copied as symlinks, hard
/// links inside the source stay hard links.
struct CopyLayer {
    let stage: Stage
    let copy: CopyStep
    let epoch: Int64
    let uid: UInt32
    let gid: UInt32

    func write(into writer: LayerWriter, below tree: ImageFilesystem) throws -> [TarEntry] {
        let folder = "images/\(stage.name)"
        guard let realFolder = FileSystem.realPath(stage.directory),
              let hostSource = FileSystem.realPath(stage.directory + "/" + copy.source) else {
            throw StepInputError("copy source '\(copy.source)' does not exist in \(folder)")
        }
        guard hostSource == realFolder || hostSource.hasPrefix(realFolder + "/") else {
            throw StepInputError("copy source '\(copy.source)' leads to \(hostSource), outside the image folder \(folder)")
        }
        let to: RelativePath
        do { to = try RelativePath(copy.to, allowAbsolute: true) } catch {
            throw StepInputError("'to: \(copy.to)' is not a usable path: \(error)")
        }
        var output = Output(writer: writer)
        let status = try FileSystem.statPath(hostSource)
        switch status.kind {
        case .directory:
            let destination = try tree.resolve(to, followFinal: true)
            try emitAncestors(of: destination, tree: tree, into: &output)
            if !destination.isRoot {
                if let existing = tree.entry(at: destination), existing.isDirectory {
                    try output.emit(existing, host: nil)
                } else {
                    try output.emit(TarEntry(path: destination, kind: .directory, mode: 0o755, uid: uid, gid: gid, mtime: epoch), host: nil)
                }
            }
            var firstPathOfInode: [FileIdentity: RelativePath] = [:]
            try DirectoryWalker.walk(Array(hostSource.utf8)) { file in
                let path = destination.appending(file.path)
                switch file.status.kind {
                case .directory:
                    try output.emit(TarEntry(path: path, kind: .directory, mode: 0o755, uid: uid, gid: gid, mtime: epoch), host: nil)
                case .regular:
                    let identity = FileIdentity(device: file.status.device, inode: file.status.inode)
                    if file.status.linkCount > 1, let first = firstPathOfInode[identity] {
                        try output.emit(TarEntry(path: path, kind: .hardlink(target: first), mode: fileMode(file.status), uid: uid, gid: gid, mtime: epoch), host: nil)
                    } else {
                        if file.status.linkCount > 1 { firstPathOfInode[identity] = path }
                        try output.emit(TarEntry(path: path, kind: .regular(size: file.status.size), mode: fileMode(file.status), uid: uid, gid: gid, mtime: epoch), host: file.hostPath)
                    }
                case .symlink:
                    let target = try FileSystem.readSymlink(file.hostPath)
                    try output.emit(TarEntry(path: path, kind: .symlink(target: target), mode: 0o777, uid: uid, gid: gid, mtime: epoch), host: nil)
                default:
                    throw StepInputError("\(folder)/\(copy.source.hasSuffix("/") ? copy.source : copy.source + "/")\(file.path) is a \(describe(file.status.kind)); only files, folders and symlinks can be copied")
                }
            }
        case .regular:
            let name = Array(copy.source.split(separator: "/").last.map(String.init)?.utf8 ?? "".utf8)
            let destination: RelativePath
            if copy.to.hasSuffix("/") || to.isRoot {
                destination = try tree.resolve(to, followFinal: true).appending(name)
            } else {
                destination = try tree.resolve(to.parent ?? .root, followFinal: true).appending(to.lastComponent)
                if let existing = tree.entry(at: destination), existing.isDirectory {
                    throw StepInputError("'to: \(copy.to)' is a folder in the image below; write 'to: \(copy.to)/' to copy \(copy.source) into it")
                }
            }
            try emitAncestors(of: destination, tree: tree, into: &output)
            try output.emit(TarEntry(path: destination, kind: .regular(size: status.size), mode: fileMode(status), uid: uid, gid: gid, mtime: epoch),
                            host: Array(hostSource.utf8))
        default:
            throw StepInputError("copy source '\(copy.source)' is a \(describe(status.kind)); only files and folders can be copied")
        }
        return output.entries
    }

    private func fileMode(_ status: FileStatus) -> UInt32 {
        // As git records modes: only the owner's execute bit survives a checkout.
        copy.mode ?? (status.ownerExecutable ? 0o755 : 0o644)
    }

    private func emitAncestors(of path: RelativePath, tree: ImageFilesystem, into output: inout Output) throws {
        for ancestor in path.ancestors {
            if let existing = tree.entry(at: ancestor) {
                guard existing.isDirectory else {
                    throw StepInputError("cannot copy to \(path.absoluteDescription): \(ancestor.absoluteDescription) is not a folder in the image below")
                }
                try output.emit(existing, host: nil)
            } else {
                try output.emit(TarEntry(path: ancestor, kind: .directory, mode: 0o755, mtime: epoch), host: nil)
            }
        }
    }

    private func describe(_ kind: FileStatus.Kind) -> String {
        switch kind {
        case .socket: return "socket"
        case .fifo: return "named pipe"
        case .characterDevice, .blockDevice: return "device"
        case .symlink: return "symlink"
        case .directory: return "folder"
        case .regular: return "file"
        }
    }

    private struct FileIdentity: Hashable {
        let device: UInt64
        let inode: UInt64
    }

    /// Writes entries to the layer and keeps their metadata for the image tree.
    private struct Output {
        let writer: LayerWriter
        var entries: [TarEntry] = []

        mutating func emit(_ entry: TarEntry, host: [UInt8]?) throws {
            var entry = entry
            if let host {
                let file = try OpenFile(bytes: host, flags: O_RDONLY | O_NOFOLLOW)
                let status = try file.status()
                guard status.kind == .regular else { throw LayersError.fileChanged(path: file.path) }
                entry.kind = .regular(size: status.size)
                try writer.tar.append(entry, contentOf: file)
            } else {
                try writer.tar.append(entry)
            }
            entries.append(entry)
        }
    }
}

/// Writes the layer of a `remove` step: an OCI whiteout for each path, which must exist in
/// the image below (symlinks in its folders are followed, the last component is not).
struct RemoveLayer {
    let paths: [String]
    let epoch: Int64

    func write(into writer: LayerWriter, below tree: ImageFilesystem) throws -> [TarEntry] {
        var targets: [RelativePath] = []
        for raw in paths {
            let path: RelativePath
            do { path = try RelativePath(raw, allowAbsolute: true) } catch {
                throw StepInputError("'\(raw)' is not a usable path: \(error)")
            }
            let resolved = try tree.resolve(path.parent ?? .root, followFinal: true).appending(path.lastComponent)
            guard tree.entry(at: resolved) != nil else {
                throw StepInputError("'\(raw)' does not exist in the image below this step, so there is nothing to remove")
            }
            targets.append(resolved)
        }
        let unique = Set(targets).sorted()
        // Removing a folder removes what is inside it: one whiteout is enough.
        let roots = unique.filter { target in !unique.contains { $0.isAncestor(of: target) } }
        var entries: [RelativePath: TarEntry] = [:]
        for target in roots {
            for ancestor in target.ancestors {
                guard let existing = tree.entry(at: ancestor), existing.isDirectory else { continue }
                entries[ancestor] = existing
            }
            let marker = Whiteout.remove(target).entryPath
            // A whiteout is an empty marker file; its metadata is fixed.
            entries[marker] = TarEntry(path: marker, kind: .regular(size: 0), mode: 0o600, mtime: epoch)
        }
        let ordered = entries.values.sorted { $0.path < $1.path }
        for entry in ordered { try writer.tar.append(entry) }
        return ordered
    }
}
