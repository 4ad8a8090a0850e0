import CBakeSystem
import Glibc
import Layers
import OCI

/// Layers unpacked once per diffID under `STORE/unpacked/<diffID hex>`, with deletions the
/// overlayfs way (0/0 character devices, the opaque attribute), so they serve as overlay
/// lower dirs. Each is extracted into a temporary folder, verified against its digests as
/// it is read, and renamed into place: a folder that exists is complete.
public struct UnpackedLayers: Sendable {
    public let store: ContentStore

    public init(store: ContentStore) {
        self.store = store
    }

    public var root: String { store.root + "/unpacked" }

    public func path(_ diffID: Digest) -> String { root + "/" + diffID.encoded }

    /// The unpacked folders of `layers`, bottom first, extracting what is missing. Call under
    /// the store's exclusive lock.
    public func ensure(layers: [Descriptor], diffIDs: [Digest]) throws -> [String] {
        try FileSystem.createDirectory(root, mode: 0o700)
        var paths: [String] = []
        for (layer, diffID) in zip(layers, diffIDs) {
            let target = path(diffID)
            if (try FileSystem.lstatIfExists(target)) == nil {
                let temporary = try FileSystem.makeTemporaryDirectory(in: root, prefix: ".tmp", mode: 0o755)
                do {
                    let extractor = try TreeExtractor(root: temporary, whiteouts: .overlay, preserveOwnership: true)
                    try extractor.extract(layer: store.openLayer(layer, diffID: diffID))
                    try extractor.finish()
                    // On disk before the name says it is complete: a crash must not leave a
                    // folder of empty files that later steps would build on.
                    let folder = open(temporary, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                    if folder >= 0 { _ = bake_syncfs(folder); close(folder) }
                    if rename(temporary, target) != 0 {
                        // Another image of a parallel build unpacked the same layer first.
                        guard errno == EEXIST || errno == ENOTEMPTY, (try FileSystem.lstatIfExists(target)) != nil else {
                            throw LayersError.system(operation: "rename", path: temporary, errno: errno)
                        }
                        try FileSystem.removeTree(temporary)
                    }
                } catch {
                    try? FileSystem.removeTree(temporary)
                    throw error
                }
            }
            paths.append(target)
        }
        return paths
    }

    /// Removes unpacked layers whose diffID is not in `keep`, and leftovers of interrupted
    /// extractions; returns the number of folders removed.
    public func prune(keeping keep: Set<Digest>) throws -> Int {
        guard (try FileSystem.lstatIfExists(root)) != nil else { return 0 }
        var removed = 0
        for name in try FileSystem.directoryEntries(Array(root.utf8)) {
            let text = FileSystem.text(name)
            if let digest = try? Digest(algorithm: .sha256, encoded: text), keep.contains(digest) { continue }
            try FileSystem.removeTree(root + "/" + text)
            removed += 1
        }
        return removed
    }
}
