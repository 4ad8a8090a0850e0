/// The merged file tree of an image's layers, metadata only (no file contents): what a
/// step sees below it. Used to keep existing folders' metadata when a layer adds to them,
/// to check that removed paths exist, and to resolve symlinks inside the image.
public final class ImageFilesystem {
    final class Node {
        var entry: TarEntry
        /// Index of the layer that last wrote this path.
        var layer: Int
        var children: [[UInt8]: Node] = [:]

        init(entry: TarEntry, layer: Int) {
            self.entry = entry
            self.layer = layer
        }
    }

    private let root: Node

    /// An empty tree (a `scratch` base): just `/`, mode 0755, owned by root.
    public init() {
        root = Node(entry: TarEntry(path: .root, kind: .directory, mode: 0o755, mtime: 0), layer: -1)
    }

    /// Applies one layer's entries, with OCI whiteout semantics: whiteouts hide what lower
    /// layers put there, then the layer's own entries are added.
    public func apply(layer entries: [TarEntry], index: Int) {
        for entry in entries {
            switch entry.whiteout {
            case .remove(let path)?:
                if let parent = path.parent, let node = node(at: parent) {
                    node.children[path.lastComponent] = nil
                }
            case .opaque(let directory)?:
                node(at: directory)?.children = [:]
            case nil:
                continue
            }
        }
        for entry in entries where entry.whiteout == nil {
            if entry.path.isRoot {
                if entry.isDirectory { root.entry = entry; root.layer = index }
                continue
            }
            let parent = ensureDirectory(entry.path.parent ?? .root, layer: index)
            let name = entry.path.lastComponent
            if let existing = parent.children[name], existing.entry.isDirectory, entry.isDirectory {
                existing.entry = entry
                existing.layer = index
            } else {
                parent.children[name] = Node(entry: entry, layer: index)
            }
        }
    }

    /// Like `apply`, for archives from outside bake: refuses an entry whose path passes
    /// through a symlink of the tree (one an earlier layer, or an earlier entry of this
    /// layer, put there), which would make an extraction write elsewhere.
    public func applyChecked(layer entries: [TarEntry], index: Int) throws {
        for (position, entry) in entries.enumerated() {
            var current = RelativePath.root
            for component in (entry.path.parent ?? .root).components {
                current = current.appending(component)
                guard let node = node(at: current) else { break }
                if case .symlink = node.entry.kind {
                    throw LayersError.unsafeEntry(path: entry.path.description, reason: "it goes through the symlink \(current.absoluteDescription)")
                }
            }
            if case .hardlink(let target) = entry.kind {
                var current = RelativePath.root
                for component in (target.parent ?? .root).components {
                    current = current.appending(component)
                    if let node = node(at: current), case .symlink = node.entry.kind {
                        throw LayersError.unsafeEntry(path: entry.path.description, reason: "its link target goes through the symlink \(current.absoluteDescription)")
                    }
                }
            }
            // Entries of the same layer count too: apply them one at a time.
            apply(layer: [entries[position]], index: index)
        }
    }

    /// The entry at `path` (no symlink is followed), or nil.
    public func entry(at path: RelativePath) -> TarEntry? {
        node(at: path)?.entry
    }

    /// The index of the layer that last wrote `path`.
    public func layerIndex(at path: RelativePath) -> Int? {
        node(at: path)?.layer
    }

    /// The paths directly inside a folder, sorted.
    public func children(of path: RelativePath) -> [RelativePath] {
        guard let node = node(at: path) else { return [] }
        return node.children.keys.sorted { $0.lexicographicallyPrecedes($1) }.map { path.appending($0) }
    }

    /// Every entry of the tree in canonical order (root excluded).
    public func allEntries() -> [TarEntry] {
        var result: [TarEntry] = []
        func visit(_ node: Node) {
            for name in node.children.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
                let child = node.children[name]!
                result.append(child.entry)
                visit(child)
            }
        }
        visit(root)
        return result
    }

    /// Resolves `path` inside the image the way the kernel would in a chroot: symlinks in
    /// its folders are followed (absolute targets from the image root, `..` never above
    /// it); the last component is followed only when `followFinal` is set. Missing
    /// components are kept as they are.
    public func resolve(_ path: RelativePath, followFinal: Bool) throws -> RelativePath {
        var pending = path.components
        var resolved = RelativePath.root
        var hops = 0
        while !pending.isEmpty {
            let component = pending.removeFirst()
            if component == [0x2e] { continue }
            if component == [0x2e, 0x2e] {
                resolved = resolved.parent ?? .root
                continue
            }
            let candidate = resolved.appending(component)
            if let node = node(at: candidate), case .symlink(let target) = node.entry.kind,
               !pending.isEmpty || followFinal {
                hops += 1
                guard hops <= 40 else {
                    throw LayersError.unsupported("too many levels of symlinks resolving \(path.absoluteDescription) in the image")
                }
                let targetComponents = target.split(separator: 0x2f, omittingEmptySubsequences: true).map(Array.init)
                if target.first == 0x2f { resolved = .root }
                pending = targetComponents + pending
                continue
            }
            resolved = candidate
        }
        return resolved
    }

    private func node(at path: RelativePath) -> Node? {
        var node = root
        for component in path.components {
            guard let child = node.children[component] else { return nil }
            node = child
        }
        return node
    }

    private func ensureDirectory(_ path: RelativePath, layer: Int) -> Node {
        var node = root
        var current = RelativePath.root
        for component in path.components {
            current = current.appending(component)
            if let child = node.children[component], child.entry.isDirectory {
                node = child
            } else {
                // A layer that adds below a folder it does not list: the folder is implied.
                let child = Node(entry: TarEntry(path: current, kind: .directory, mode: 0o755, mtime: 0), layer: layer)
                node.children[component] = child
                node = child
            }
        }
        return node
    }
}
