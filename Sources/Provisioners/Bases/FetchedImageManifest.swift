import OCI

/// A manifest as a registry sent it.
public struct FetchedImageManifest: Sendable {
    public var digest: Digest
    public var bytes: [UInt8]

    public init(digest: Digest, bytes: [UInt8]) {
        self.digest = digest
        self.bytes = bytes
    }
}
