import Layers
import OCI

/// What a build tells whoever is watching (the command line prints it).
public protocol BuildReporter: AnyObject {
    /// Another bake process holds the store; this one waits for it.
    func waitingForStore(_ lockPath: String)
    /// An image is about to be built.
    func imageStarted(_ stage: Stage)
    /// A step is about to run.
    func stepStarted(_ stage: Stage, _ step: Step)
    /// A step made its layer.
    func stepFinished(_ stage: Stage, _ step: Step, layer: LayerBlob, seconds: Double)
    /// An image was written and named in the store.
    func imageFinished(_ image: BuiltImage)
}

/// A reporter that says nothing.
public final class SilentReporter: BuildReporter {
    public init() {}
    public func waitingForStore(_ lockPath: String) {}
    public func imageStarted(_ stage: Stage) {}
    public func stepStarted(_ stage: Stage, _ step: Step) {}
    public func stepFinished(_ stage: Stage, _ step: Step, layer: LayerBlob, seconds: Double) {}
    public func imageFinished(_ image: BuiltImage) {}
}

/// An image the build produced.
public struct BuiltImage: Sendable {
    /// The image name.
    public var name: String
    /// Its manifest, as named in the store index.
    public var manifestDescriptor: Descriptor
    /// The manifest.
    public var manifest: Manifest
    /// The image config.
    public var config: ImageConfig
    /// The layers the image's own steps made (the parent's are in `manifest.layers` too).
    public var newLayers: [LayerBlob]
    /// The parent image of the pipeline, if any.
    public var parent: ParentImage?
}

/// The image another is built on.
public struct ParentImage: Sendable, Hashable, Codable {
    public var name: String
    public var digest: Digest
}
