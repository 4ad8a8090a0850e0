import CBakeSystem
import Glibc
import Layers
import OCI
import Synchronization

/// Layers unpacked once per diffID under `STORE/unpacked/<diffID hex>`, with deletions the
/// overlayfs way (0/0 character devices, the opaque attribute), so they serve as overlay
/// lower dirs. Each is extracted into a temporary folder, verified against its digests as
/// it is read, and renamed into place; then its stamp, `<diffID hex>.stamp`, records the
/// folder's metadata digest and content digest (`TreeDigest`).
///
/// A folder is trusted only while its stamp matches: every use compares the metadata
/// digest (a parallel lstat of the tree, no content read); when that differs, the content
/// digest decides: the same content (a store copied elsewhere) only refreshes the stamp,
/// anything else (a file edited, deleted or added, the folder replaced) is unpacked again,
/// and said so. `bake fsck` compares both digests.
public struct UnpackedLayers: Sendable {
    public let store: ContentStore

    public init(store: ContentStore) {
        self.store = store
    }

    public var root: String { store.root + "/unpacked" }

    public func path(_ diffID: Digest) -> String { root + "/" + diffID.encoded }

    /// The stamp of an unpacked layer.
    public func stampPath(_ diffID: Digest) -> String { path(diffID) + ".stamp" }

    /// What a stamp records.
    public struct Stamp: Sendable, Hashable {
        public var metadata: Digest
        public var content: Digest

        static let header = "bake-unpacked 1"

        var bytes: [UInt8] { Array("\(Self.header) \(metadata.encoded) \(content.encoded)\n".utf8) }

        init(metadata: Digest, content: Digest) {
            self.metadata = metadata
            self.content = content
        }

        init?(_ bytes: [UInt8]) {
            let fields = String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" })
            guard fields.count == 4, "\(fields[0]) \(fields[1])" == Self.header,
                  let metadata = try? Digest(algorithm: .sha256, encoded: String(fields[2])),
                  let content = try? Digest(algorithm: .sha256, encoded: String(fields[3])) else { return nil }
            self.init(metadata: metadata, content: content)
        }
    }

    /// The stamp of `diffID`'s folder, if it has a readable one.
    public func stamp(_ diffID: Digest) -> Stamp? {
        (try? FileSystem.readFile(stampPath(diffID), limit: 4096)).flatMap(Stamp.init)
    }

    /// How an unpacked folder stands against its stamp.
    public enum Condition: Sendable, Equatable {
        /// Not unpacked.
        case absent
        /// As bake unpacked it.
        case intact
        /// Changed, replaced, or without a stamp; the words (after "unpacked layer X") say how.
        case changed(String)
    }

    /// The condition of `diffID`'s folder. `full` compares the content digest even when the
    /// metadata matches (fsck); otherwise the content is read only when the metadata moved.
    /// A folder whose content matches though its metadata moved gets a fresh stamp when
    /// `refresh` is set (under the exclusive lock).
    public func condition(_ diffID: Digest, full: Bool, refresh: Bool) -> Condition {
        let folder = path(diffID)
        guard let status = try? FileSystem.lstatIfExists(folder) else { return .absent }
        guard status.kind == .directory else { return .changed("is \(status.kind.article), not a folder") }
        guard let stamp = stamp(diffID) else { return .changed("has no stamp saying what bake unpacked there") }
        let metadata = try? TreeDigest.metadata(of: folder)
        if metadata == stamp.metadata && !full { return .intact }
        guard let content = try? TreeDigest.content(of: folder), content == stamp.content else {
            return .changed("was changed since bake unpacked it")
        }
        if let metadata, metadata != stamp.metadata, refresh {
            try? store.writeAtomically(stampPath(diffID), Stamp(metadata: metadata, content: content).bytes)
        }
        return .intact
    }

    /// The unpacked folders of `layers`, bottom first, extracting what is missing and
    /// again what changed (`warn` is told which). Call under the store's exclusive lock.
    public func ensure(layers: [Descriptor], diffIDs: [Digest], warn: (String) -> Void = { _ in }) throws -> [String] {
        try FileSystem.createDirectory(root, mode: 0o700)
        var paths: [String] = []
        var done: Set<Digest> = []
        for (layer, diffID) in zip(layers, diffIDs) {
            let target = path(diffID)
            paths.append(target)
            // A layer an image holds twice is checked (and unpacked) once.
            guard done.insert(diffID).inserted else { continue }
            // Images building in parallel may want the same layer: one checks and unpacks
            // it while the others wait, so none sees a folder between rename and stamp.
            try Self.lock.withLock { _ in
                switch condition(diffID, full: false, refresh: true) {
                case .intact:
                    return
                case .changed(let why):
                    warn("unpacked layer \(diffID.short) (\(target)) \(why); unpacking it again")
                    try FileSystem.removeTree(target)
                    unlink(stampPath(diffID))
                case .absent:
                    break
                }
                try unpack(layer, diffID: diffID, into: target)
            }
        }
        return paths
    }

    /// Serialises checking and unpacking within the process (other processes are kept out
    /// by the store's exclusive lock).
    private static let lock = Mutex(())

    private func unpack(_ layer: Descriptor, diffID: Digest, into target: String) throws {
        let temporary = try FileSystem.makeTemporaryDirectory(in: root, prefix: ".tmp", mode: 0o755)
        do {
            let extractor = try TreeExtractor(root: temporary, whiteouts: .overlay, preserveOwnership: true)
            try extractor.extract(layer: store.openLayer(layer, diffID: diffID))
            try extractor.finish()
            // On disk before the name says it is complete: a crash must not leave a
            // folder of empty files that later steps would build on.
            let folder = open(temporary, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if folder >= 0 { _ = bake_syncfs(folder); close(folder) }
            // The stamp first, then the name: a folder is never there without its stamp
            // (the rename moves only what the metadata digest leaves out).
            let stamp = Stamp(metadata: try TreeDigest.metadata(of: temporary), content: try TreeDigest.content(of: temporary))
            try store.writeAtomically(stampPath(diffID), stamp.bytes)
            store.journalCreated(target)
            guard rename(temporary, target) == 0 else {
                throw LayersError.system(operation: "rename \(temporary) to", path: target, errno: errno)
            }
        } catch {
            try? FileSystem.removeTree(temporary)
            throw error
        }
    }

    /// Removes unpacked layers (and their stamps) whose diffID is not in `keep`, and
    /// leftovers of interrupted extractions; returns the number of folders removed.
    public func prune(keeping keep: Set<Digest>) throws -> Int {
        guard (try FileSystem.lstatIfExists(root)) != nil else { return 0 }
        var removed = 0
        for name in try FileSystem.directoryEntries(Array(root.utf8)) {
            let text = FileSystem.text(name)
            let hex = text.hasSuffix(".stamp") ? String(text.dropLast(".stamp".count)) : text
            if let digest = try? Digest(algorithm: .sha256, encoded: hex), keep.contains(digest) { continue }
            try FileSystem.removeTree(root + "/" + text)
            if !text.hasSuffix(".stamp") { removed += 1 }
        }
        return removed
    }
}
