import Glibc
import Layers
import OCI

/// Writes the layer of one copy step.
struct CopyWriter {
    let step: CopyStep
    let buildContext: BuildContext
    let epoch: Int64
    let uid: UInt32
    let gid: UInt32

    private var copy: CopyStep { step }

    func write(into tar: TarWriter, below tree: ImageFilesystem) throws -> StepOutcome {
        let folder = buildContext.name
        guard let realFolder = FileSystem.realPath(buildContext.path),
              let hostSource = FileSystem.realPath(buildContext.path + "/" + copy.source) else {
            throw InputError("copy source '\(copy.source)' does not exist in \(folder)")
        }
        guard hostSource == realFolder || hostSource.hasPrefix(realFolder + "/") else {
            throw InputError("copy source '\(copy.source)' leads to \(hostSource), outside the image folder \(folder)")
        }
        let to: RelativePath
        do { to = try RelativePath(copy.to, allowAbsolute: true) } catch {
            throw InputError("'to: \(copy.to)' is not a usable path: \(error)")
        }
        var output = Output(tar: tar, folder: folder, source: copy.source)
        let status = try FileSystem.statPath(hostSource)
        let destination: RelativePath
        switch status.kind {
        case .directory:
            destination = try tree.resolve(to, followFinal: true)
            try emitAncestors(of: destination, tree: tree, into: &output)
            if !destination.isRoot {
                try emitFolder(destination, tree: tree, into: &output, walked: nil)
            }
            var firstPathOfInode: [FileIdentity: RelativePath] = [:]
            try DirectoryWalker.walk(Array(hostSource.utf8)) { file in
                let path = destination.appending(file.path)
                switch file.status.kind {
                case .directory:
                    try emitFolder(path, tree: tree, into: &output, walked: file.path)
                case .regular:
                    try refuseReplacingFolder(path, tree: tree)
                    let identity = FileIdentity(device: file.status.device, inode: file.status.inode)
                    if file.status.linkCount > 1, let first = firstPathOfInode[identity] {
                        try output.emit(TarEntry(path: path, kind: .hardlink(target: first), mode: fileMode(file.status), uid: uid, gid: gid, mtime: epoch), host: nil)
                    } else {
                        if file.status.linkCount > 1 { firstPathOfInode[identity] = path }
                        try output.emit(TarEntry(path: path, kind: .regular(size: file.status.size), mode: fileMode(file.status), uid: uid, gid: gid, mtime: epoch), host: file.hostPath)
                    }
                case .symlink:
                    try refuseReplacingFolder(path, tree: tree)
                    let target = try FileSystem.readSymlink(file.hostPath)
                    try output.emit(TarEntry(path: path, kind: .symlink(target: target), mode: 0o777, uid: uid, gid: gid, mtime: epoch), host: nil)
                default:
                    throw InputError("\(folder)/\(copy.source.hasSuffix("/") ? copy.source : copy.source + "/")\(file.path) is \(file.status.kind.article); only files, folders and symlinks can be copied")
                }
            }
        case .regular:
            let name = Array(copy.source.split(separator: "/").last.map(String.init)?.utf8 ?? "".utf8)
            if copy.to.hasSuffix("/") || to.isRoot {
                destination = try tree.resolve(to, followFinal: true).appending(name)
            } else {
                destination = try tree.resolve(to.parent ?? .root, followFinal: true).appending(to.lastComponent)
                if let existing = tree.entry(at: destination), existing.isDirectory {
                    throw InputError("'to: \(copy.to)' is a folder in the image below; write 'to: \(copy.to)/' to copy \(copy.source) into it")
                }
            }
            try emitAncestors(of: destination, tree: tree, into: &output)
            try output.emit(TarEntry(path: destination, kind: .regular(size: status.size), mode: fileMode(status), uid: uid, gid: gid, mtime: epoch),
                            host: Array(hostSource.utf8))
        default:
            throw InputError("copy source '\(copy.source)' is \(status.kind.article); only files, folders and symlinks can be copied")
        }
        let source = (try? RelativePath(copy.source))?.description ?? copy.source
        var history = "copy \(source.isEmpty ? "." : source) \(destination.absoluteDescription)"
        if status.kind == .directory && !destination.isRoot { history += "/" }
        if let mode = copy.mode { history += " mode=" + Octal.mode(mode) }
        if copy.owner != nil { history += " owner=\(uid):\(gid)" }
        return StepOutcome(entries: output.entries, history: history)
    }

    /// A folder of the source at `path`: a folder already there keeps its metadata; a
    /// symlink there is not replaced by a folder (that would cut off what it points to).
    private func emitFolder(_ path: RelativePath, tree: ImageFilesystem, into output: inout Output, walked: RelativePath?) throws {
        switch tree.entry(at: path)?.kind {
        case .directory?:
            try output.emit(tree.entry(at: path)!, host: nil)
        case .symlink(let target)?:
            let shown = walked.map { "\(copy.source.hasSuffix("/") ? copy.source : copy.source + "/")\($0)" } ?? copy.source
            throw InputError("cannot copy the folder \(shown) to \(path.absoluteDescription): that is a symlink in the image below (to \(String(decoding: target, as: UTF8.self))); copy into its target instead")
        default:
            try output.emit(TarEntry(path: path, kind: .directory, mode: 0o755, uid: uid, gid: gid, mtime: epoch), host: nil)
        }
    }

    /// A file or symlink must not silently replace a folder of the image below.
    private func refuseReplacingFolder(_ path: RelativePath, tree: ImageFilesystem) throws {
        if let existing = tree.entry(at: path), existing.isDirectory {
            throw InputError("cannot copy to \(path.absoluteDescription): it is a folder in the image below, and a file would replace it with everything in it")
        }
    }

    private func fileMode(_ status: FileStatus) -> UInt32 {
        // As git records modes: only the owner's execute bit survives a checkout.
        copy.mode ?? (status.ownerExecutable ? 0o755 : 0o644)
    }

    private func emitAncestors(of path: RelativePath, tree: ImageFilesystem, into output: inout Output) throws {
        for ancestor in path.ancestors {
            if let existing = tree.entry(at: ancestor) {
                guard existing.isDirectory else {
                    throw InputError("cannot copy to \(path.absoluteDescription): \(ancestor.absoluteDescription) is not a folder in the image below")
                }
                try output.emit(existing, host: nil)
            } else {
                try output.emit(TarEntry(path: ancestor, kind: .directory, mode: 0o755, mtime: epoch), host: nil)
            }
        }
    }

    private struct FileIdentity: Hashable {
        let device: UInt64
        let inode: UInt64
    }

    /// Writes entries to the layer and keeps their metadata for the image tree.
    private struct Output {
        let tar: TarWriter
        let folder: String
        let source: String
        var entries: [TarEntry] = []

        mutating func emit(_ entry: TarEntry, host: [UInt8]?) throws {
            // `.wh.` names are OCI whiteouts: copying one would delete a file of the image.
            if entry.hasWhiteoutName {
                let shown = host.map { FileSystem.text($0) } ?? entry.path.absoluteDescription
                throw InputError("\(shown) has a name starting with '.wh.', which OCI reserves for deletions; rename it")
            }
            var entry = entry
            if let host {
                // Non-blocking: a FIFO put there while bake walks must fail, not hang the build.
                let file = try OpenFile(bytes: host, flags: O_RDONLY | O_NOFOLLOW | O_NONBLOCK)
                let status = try file.status()
                guard status.kind == .regular else { throw LayersError.fileChanged(path: file.path) }
                entry.kind = .regular(size: status.size)
                try tar.append(entry, contentOf: file)
            } else {
                try tar.append(entry)
            }
            entries.append(entry)
        }
    }
}
