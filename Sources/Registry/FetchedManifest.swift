import OCI

/// A manifest or index as the registry sent it, verified against its digest.
public struct FetchedManifest: Sendable {
    /// The exact bytes (their sha256 is `digest`).
    public var bytes: [UInt8]
    /// The media type the registry gave (Content-Type), or the document's own.
    public var mediaType: MediaType
    /// The digest of `bytes`.
    public var digest: Digest
}
