// Image manifest: https://github.com/opencontainers/image-spec/blob/v1.1.0/manifest.md

/// An image manifest: one config and an ordered list of layers.
public struct Manifest: Sendable, Hashable, Codable {
    /// Always 2.
    public var schemaVersion: Int
    /// `application/vnd.oci.image.manifest.v1+json` (or Docker's, when imported).
    public var mediaType: MediaType?
    /// Type of an artifact manifest; nil for images.
    public var artifactType: MediaType?
    /// The image configuration blob.
    public var config: Descriptor
    /// Layers, base first.
    public var layers: [Descriptor]
    /// A manifest this one refers to (referrers API).
    public var subject: Descriptor?
    /// Arbitrary metadata.
    public var annotations: [String: String]?

    public init(config: Descriptor, layers: [Descriptor], annotations: [String: String]? = nil) {
        self.schemaVersion = 2
        self.mediaType = .imageManifest
        self.config = config
        self.layers = layers
        self.annotations = annotations
    }
}
