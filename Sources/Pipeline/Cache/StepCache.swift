import Glibc
import Layers
import OCI
import Synchronization

/// The step cache: key -> layer.
public final class StepCache: Sendable {
    let store: ContentStore
    /// How many blobs lookups re-read to verify them.
    private let verifications = Mutex(0)

    public init(store: ContentStore) {
        self.store = store
    }

    /// How many cached layer blobs this cache has re-read to verify them (for tests).
    public var blobsVerified: Int { verifications.withLock { $0 } }

    var folder: String { store.root + "/cache/steps" }

    func path(_ key: Digest) -> String { folder + "/" + key.encoded + ".json" }

    /// The usable entry for `key`, verifying its blob unless its stat still matches the
    /// last verification. With `repair` (only under the exclusive lock), a re-verified
    /// blob's stamp is saved and a corrupt blob is deleted so the rebuild replaces it.
    public func lookup(_ key: Digest, repair: Bool) -> Result<CacheEntry, CacheMiss> {
        guard let bytes = try? FileSystem.readFile(path(key), limit: 1 << 20),
              var entry = try? CanonicalJSON.decode(CacheEntry.self, from: bytes, kind: "cache entry"),
              entry.key == key else {
            return .failure(.absent)
        }
        let blob = entry.layer.descriptor.digest
        guard let status = try? FileSystem.lstatIfExists(store.blobPath(blob)), status.kind == .regular else {
            return .failure(.blobMissing(blob))
        }
        if let stamp = entry.verified, stamp == BlobStamp(status), status.size == entry.layer.descriptor.size {
            return .success(entry)
        }
        do {
            verifications.withLock { $0 += 1 }
            try store.verifyBlob(blob, what: "layer")
        } catch {
            if repair { unlink(store.blobPath(blob)) }
            return .failure(.blobCorrupt(blob))
        }
        if repair, let fresh = try? FileSystem.lstatPath(store.blobPath(blob)) {
            entry.verified = BlobStamp(fresh)
            try? record(entry)
        }
        return .success(entry)
    }

    /// Saves an entry (under the exclusive lock).
    public func record(_ entry: CacheEntry) throws {
        try FileSystem.createDirectory(folder)
        try store.writeAtomically(path(entry.key), CanonicalJSON.encode(entry))
    }

    /// An entry for a layer just written: its blob is trusted as written.
    public func record(key: Digest, layer: LayerBlob, history: String, packages: [String]? = nil) throws {
        let stamp = (try? FileSystem.lstatPath(store.blobPath(layer.descriptor.digest))).map(BlobStamp.init)
        try record(CacheEntry(key: key, layer: layer, history: history, packages: packages, verified: stamp))
    }

    /// Every entry (for gc and fsck).
    public func allEntries() throws -> [CacheEntry] {
        guard (try FileSystem.lstatIfExists(folder)) != nil else { return [] }
        return try FileSystem.directoryEntries(Array(folder.utf8)).compactMap { name in
            let file = folder + "/" + FileSystem.text(name)
            guard let bytes = try? FileSystem.readFile(file, limit: 1 << 20) else { return nil }
            return try? CanonicalJSON.decode(CacheEntry.self, from: bytes, kind: "cache entry")
        }
    }

    /// Deletes the entry for a key.
    public func remove(_ key: Digest) {
        unlink(path(key))
    }
}
