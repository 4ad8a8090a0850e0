import Glibc
import Layers
import OCI
import Synchronization

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
