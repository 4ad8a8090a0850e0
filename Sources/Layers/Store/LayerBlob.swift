import CZlib
import OCI

/// A layer blob in the store.
public struct LayerBlob: Sendable, Hashable, Codable {
    /// The compressed blob (`application/vnd.oci.image.layer.v1.tar+gzip`).
    public var descriptor: Descriptor
    /// sha256 of the uncompressed tar (the config's `rootfs.diff_ids` entry).
    public var diffID: Digest
    /// Size of the uncompressed tar.
    public var uncompressedSize: Int64

    public init(descriptor: Descriptor, diffID: Digest, uncompressedSize: Int64) {
        self.descriptor = descriptor
        self.diffID = diffID
        self.uncompressedSize = uncompressedSize
    }
}
