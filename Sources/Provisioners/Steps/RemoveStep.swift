import Layers

/// `remove: [PATH...]`: an OCI whiteout for each path, which must exist in the image below
/// (symlinks in its folders are followed, the last component is not). Removing a folder
/// removes what is inside it.
public struct RemoveStep: Provisioner, Hashable {
    public static let kind = "remove"

    /// Absolute paths in the image, as written.
    public var paths: [String]

    public init(paths: [String]) {
        self.paths = paths
    }

    public var summary: String { "remove " + paths.joined(separator: " ") }

    public var spec: StepSpec {
        let normalised = paths.map { (try? RelativePath($0, allowAbsolute: true))?.absoluteDescription ?? $0 }
        return StepSpec(kind: Self.kind, arguments: ["paths": Set(normalised).sorted().joined(separator: "\n")])
    }

    public func apply(_ context: StepContext) throws -> StepOutcome {
        let tree = context.below.tree
        let epoch = context.epoch
        var targets: [RelativePath] = []
        for raw in paths {
            let path: RelativePath
            do { path = try RelativePath(raw, allowAbsolute: true) } catch {
                throw InputError("'\(raw)' is not a usable path: \(error)")
            }
            let resolved = try tree.resolve(path.parent ?? .root, followFinal: true).appending(path.lastComponent)
            guard tree.entry(at: resolved) != nil else {
                throw InputError("'\(raw)' does not exist in the image below this step, so there is nothing to remove")
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
        for entry in ordered { try context.layer.append(entry) }
        return StepOutcome(entries: ordered, history: "remove " + roots.map(\.absoluteDescription).joined(separator: " "))
    }
}

