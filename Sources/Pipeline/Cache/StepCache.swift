import Glibc
import Layers
import OCI

/// One cached step: the layer a key produced. `STORE/cache/steps/<key hex>.json`.
public struct CacheEntry: Sendable, Hashable, Codable {
    /// The key this entry answers.
    public var key: Digest
    /// The layer.
    public var layer: LayerBlob
    /// The image history text of the step.
    public var history: String
    /// For an apt step: the packages it installed, as name=version.
    public var packages: [String]?
    /// The layer blob's stat when its bytes were last verified: while the blob's file keeps
    /// this stat, a hit trusts it without reading it again; any change means a re-hash.
    public var verified: BlobStamp?
}

/// The stat of a verified blob file.
public struct BlobStamp: Sendable, Hashable, Codable {
    public var inode: UInt64
    public var size: Int64
    public var mtime: [Int64]
    public var ctime: [Int64]

    init(_ status: FileStatus) {
        inode = status.inode
        size = status.size
        mtime = [status.modificationSeconds, status.modificationNanoseconds]
        ctime = [status.changeSeconds, status.changeNanoseconds]
    }
}

/// Why a lookup found no usable layer.
public enum CacheMiss: Error, Sendable, Hashable {
    /// No entry for the key.
    case absent
    /// The entry's layer blob is gone (removed by hand or by an older gc).
    case blobMissing(Digest)
    /// The entry's layer blob does not hash to its digest.
    case blobCorrupt(Digest)
}

/// The step cache: key -> layer.
public final class StepCache: @unchecked Sendable {
    let store: ContentStore
    private let lock = Lock()
    private var verifications = 0

    public init(store: ContentStore) {
        self.store = store
    }

    /// How many cached layer blobs this cache has re-read to verify them (for tests).
    public var blobsVerified: Int { lock.withLock { verifications } }

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
            lock.withLock { verifications += 1 }
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
