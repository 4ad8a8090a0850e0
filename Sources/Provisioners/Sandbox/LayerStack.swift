import Layers
import OCI

/// An image's layers, bottom first, with their diffIDs.
public struct LayerStack: Sendable, Hashable {
    public var layers: [Descriptor]
    public var diffIDs: [Digest]

    public init(layers: [Descriptor], diffIDs: [Digest]) {
        self.layers = layers
        self.diffIDs = diffIDs
    }
}
