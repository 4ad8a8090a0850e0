import Layers
import OCI
import Provisioners

/// An image the build produced.
public struct BuiltImage: Sendable {
    public var name: String
    /// Its config and manifest.
    public var assembled: AssembledImage
    /// Its own steps, in order.
    public var steps: [StepResult]
    /// The image below it in the pipeline, if any.
    public var parent: ParentImage?
    /// Wall-clock seconds the image took.
    public var seconds: Double
    /// External pins of its base (a Debian release), empty for other bases.
    public var upstream: [String: String] = [:]

    public var manifestDescriptor: Descriptor { assembled.manifestDescriptor }
    public var manifest: Manifest { assembled.manifest }
    public var config: ImageConfig { assembled.config }
    /// The layers its own steps made or took from the cache.
    public var newLayers: [LayerBlob] { steps.map(\.layer) }
}
