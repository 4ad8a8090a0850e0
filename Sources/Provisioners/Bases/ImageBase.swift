import OCI

/// What an image is built on, as its first step sees it.
public struct ImageBase: Sendable {
    /// The cache-key state before the first step (see `CacheKey`).
    public var state: Digest
    public var layers: [Descriptor]
    public var diffIDs: [Digest]
    public var history: [History]
    public var config: ContainerConfig?
    public var platform: Platform
    /// The time written into this image's layers and config.
    public var epoch: Int64
    /// The image below, when it has a name (another image of the pipeline, a pulled image).
    public var parent: ParentImage?

    public init(
        state: Digest, layers: [Descriptor], diffIDs: [Digest], history: [History], config: ContainerConfig?,
        platform: Platform, epoch: Int64, parent: ParentImage?
    ) {
        self.state = state
        self.layers = layers
        self.diffIDs = diffIDs
        self.history = history
        self.config = config
        self.platform = platform
        self.epoch = epoch
        self.parent = parent
    }
}
