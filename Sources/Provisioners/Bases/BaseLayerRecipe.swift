import Layers
import OCI

/// The one layer bake makes of a Debian or rootfs base, keyed like a step.
public struct BaseLayerRecipe: Sendable {
    /// What enters the layer's key: its meaning (the kind and what it is pinned to).
    public var spec: StepSpec
    /// The digest of the files it reads, if any (a tarball's listing).
    public var inputs: Digest?
    /// Whether making it reaches the network.
    public var network: Bool
    /// The build time of this image and everything built on it.
    public var epoch: Int64
    /// One line for progress, the record and the image history.
    public var summary: String
    /// The config environment of an image with this layer (a Debian root's PATH).
    public var environment: [String]?
    /// Makes the layer: writes its entries to `context.layer`.
    public var make: @Sendable (BaseLayerContext) throws -> Void

    public init(
        spec: StepSpec, inputs: Digest?, network: Bool, epoch: Int64, summary: String, environment: [String]?,
        make: @escaping @Sendable (BaseLayerContext) throws -> Void
    ) {
        self.spec = spec
        self.inputs = inputs
        self.network = network
        self.epoch = epoch
        self.summary = summary
        self.environment = environment
        self.make = make
    }
}
