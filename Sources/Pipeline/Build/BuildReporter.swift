import Layers
import OCI

/// Something a build tells whoever watches it. Images may build in parallel, so events
/// arrive from several threads; reporters must be thread-safe.
public enum BuildEvent: Sendable {
    /// Another bake process holds the store; this one waits for it.
    case waitingForLock(String)
    /// An image starts.
    case imageStarted(image: String, file: String, base: String, steps: Int)
    /// A step that is not a cache hit starts running.
    case stepStarted(image: String, step: Int, of: Int, summary: String, reason: String)
    /// A step is done, from the cache or built.
    case stepFinished(StepResult)
    /// A line a command printed; `label` is "step 2" or "check 1".
    case output(image: String, label: String, line: String)
    /// A check of a finished image starts running.
    case checkStarted(image: String, check: Int, of: Int, summary: String)
    /// An image is written and named in the store.
    case imageFinished(BuiltImage)
    /// Something the user should know that does not stop the build (an unpacked layer
    /// found changed and unpacked again, a leftover that could not be removed).
    case warning(String)
}

/// How one step went.
public struct StepResult: Sendable {
    public var image: String
    public var step: Int
    public var of: Int
    public var summary: String
    /// True when the layer came from the cache.
    public var cached: Bool
    /// Why it was built (nil for a cache hit).
    public var reason: String?
    /// The step's cache key, with its parts.
    public var key: CacheKey
    public var layer: LayerBlob
    public var seconds: Double
    /// For an apt step: the packages installed, as name=version.
    public var packages: [String]?
}

/// Receives build events.
public protocol BuildReporter: AnyObject, Sendable {
    func report(_ event: BuildEvent)
}

/// A reporter that says nothing.
public final class SilentReporter: BuildReporter {
    public init() {}
    public func report(_ event: BuildEvent) {}
}

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

/// The image another is built on.
public struct ParentImage: Sendable, Hashable, Codable {
    public var name: String
    public var digest: Digest
}
