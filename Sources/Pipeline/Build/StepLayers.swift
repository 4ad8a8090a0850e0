import Glibc
import Layers

/// A mistake in a step's input that only the build can see (a path missing from the image
/// below, an unknown user). The builder adds the step's location.
struct StepInputError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// What a step wrote: its entries (for the image tree of later steps) and the text of its
/// history entry, made from what the step means (normalised source, resolved destination,
/// numeric owner), so that rewording a stage file without changing its meaning changes nothing.
struct StepOutput {
    var entries: [TarEntry]
    var history: String
}

/// Writes the layer of a `copy` step: the source's files with the modes git would record
/// (0755 when the owner may execute, else 0644; folders 0755), owner 0:0 unless `owner:`,
/// every mtime the build time. Folders that already exist below keep their metadata;
/// missing ones on the way to `to` are created 0755, owned by root. Symlinks are copied as
/// symlinks, hard links inside the source stay hard links.
struct CopyLayer {
    let stage: Stage
    let copy: CopyStep
    let epoch: Int64
    let uid: UInt32
    let gid: UInt32

    func write(into writer: LayerWriter, below tree: ImageFilesystem) throws -> StepOutput {
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
        var output = Output(writer: writer, folder: folder, source: copy.source)
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
                    throw StepInputError("\(folder)/\(copy.source.hasSuffix("/") ? copy.source : copy.source + "/")\(file.path) is \(file.status.kind.article); only files, folders and symlinks can be copied")
                }
            }
        case .regular:
            let name = Array(copy.source.split(separator: "/").last.map(String.init)?.utf8 ?? "".utf8)
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
            throw StepInputError("copy source '\(copy.source)' is \(status.kind.article); only files, folders and symlinks can be copied")
        }
        let source = (try? RelativePath(copy.source))?.description ?? copy.source
        var history = "copy \(source.isEmpty ? "." : source) \(destination.absoluteDescription)"
        if status.kind == .directory && !destination.isRoot { history += "/" }
        if let mode = copy.mode { history += " mode=" + CopyStep.octal(mode) }
        if copy.owner != nil { history += " owner=\(uid):\(gid)" }
        return StepOutput(entries: output.entries, history: history)
    }

    /// A folder of the source at `path`: a folder already there keeps its metadata; a
    /// symlink there is not replaced by a folder (that would cut off what it points to).
    private func emitFolder(_ path: RelativePath, tree: ImageFilesystem, into output: inout Output, walked: RelativePath?) throws {
        switch tree.entry(at: path)?.kind {
        case .directory?:
            try output.emit(tree.entry(at: path)!, host: nil)
        case .symlink(let target)?:
            let shown = walked.map { "\(copy.source.hasSuffix("/") ? copy.source : copy.source + "/")\($0)" } ?? copy.source
            throw StepInputError("cannot copy the folder \(shown) to \(path.absoluteDescription): that is a symlink in the image below (to \(String(decoding: target, as: UTF8.self))); copy into its target instead")
        default:
            try output.emit(TarEntry(path: path, kind: .directory, mode: 0o755, uid: uid, gid: gid, mtime: epoch), host: nil)
        }
    }

    /// A file or symlink must not silently replace a folder of the image below.
    private func refuseReplacingFolder(_ path: RelativePath, tree: ImageFilesystem) throws {
        if let existing = tree.entry(at: path), existing.isDirectory {
            throw StepInputError("cannot copy to \(path.absoluteDescription): it is a folder in the image below, and a file would replace it with everything in it")
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
                    throw StepInputError("cannot copy to \(path.absoluteDescription): \(ancestor.absoluteDescription) is not a folder in the image below")
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
        let writer: LayerWriter
        let folder: String
        let source: String
        var entries: [TarEntry] = []

        mutating func emit(_ entry: TarEntry, host: [UInt8]?) throws {
            // `.wh.` names are OCI whiteouts: copying one would delete a file of the image.
            if entry.hasWhiteoutName {
                let shown = host.map { FileSystem.text($0) } ?? entry.path.absoluteDescription
                throw StepInputError("\(shown) has a name starting with '.wh.', which OCI reserves for deletions; rename it")
            }
            var entry = entry
            if let host {
                // Non-blocking: a FIFO put there while bake walks must fail, not hang the build.
                let file = try OpenFile(bytes: host, flags: O_RDONLY | O_NOFOLLOW | O_NONBLOCK)
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

    func write(into writer: LayerWriter, below tree: ImageFilesystem) throws -> StepOutput {
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
        return StepOutput(entries: ordered, history: "remove " + roots.map(\.absoluteDescription).joined(separator: " "))
    }
}

