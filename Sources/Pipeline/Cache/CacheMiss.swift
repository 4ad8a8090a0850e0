import Glibc
import Layers
import OCI
import Synchronization

/// Why a lookup found no usable layer.
public enum CacheMiss: Error, Sendable, Hashable {
    /// No entry for the key.
    case absent
    /// The entry's layer blob is gone (removed by hand or by an older gc).
    case blobMissing(Digest)
    /// The entry's layer blob does not hash to its digest.
    case blobCorrupt(Digest)
}
