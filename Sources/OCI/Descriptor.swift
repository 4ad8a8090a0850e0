// Descriptor: https://github.com/opencontainers/image-spec/blob/v1.1.0/descriptor.md

/// A reference to content: its media type, digest and size, with optional annotations.
public struct Descriptor: Sendable, Hashable, Codable {
    /// Media type of the referenced content.
    public var mediaType: MediaType
    /// Digest of the referenced content's bytes.
    public var digest: Digest
    /// Size of the referenced content in bytes.
    public var size: Int64
    /// Alternate download locations (not used by bake, kept when read).
    public var urls: [String]?
    /// Arbitrary metadata; `org.opencontainers.image.ref.name` names an image in a layout index.
    public var annotations: [String: String]?
    /// The platform of a manifest referenced from an index.
    public var platform: Platform?
    /// The type of an artifact, when the descriptor points at one.
    public var artifactType: MediaType?

    public init(
        mediaType: MediaType, digest: Digest, size: Int64,
        annotations: [String: String]? = nil, platform: Platform? = nil
    ) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.annotations = annotations
        self.platform = platform
    }
}
