import Layers
import OCI
import Provisioners

/// How one step went.
public struct StepResult: Sendable {
    public var image: String
    public var step: Int
    public var of: Int
    public var summary: String
    /// True when the layer came from the cache.
    public var cached: Bool
    /// The cache repository (`HOST/REPO`) a cached layer came from; nil: the local cache.
    public var remote: String?
    /// Why it was built (nil for a cache hit).
    public var reason: String?
    /// The step's cache key, with its parts.
    public var key: CacheKey
    public var layer: LayerBlob
    public var seconds: Double
    /// For an apt step: the packages installed, as name=version.
    public var packages: [String]?

    /// True when the step left the image as it was: its layer is an empty archive (what it
    /// wrote was all normalised away, like `apt-get update`'s lists, or it wrote nothing).
    public var changedNothing: Bool { layer.diffID == Self.emptyLayerDiffID }

    /// The diffID of a layer without entries: a tar of only its two zero end blocks.
    static let emptyLayerDiffID = Digest.sha256([UInt8](repeating: 0, count: 1024))
}
