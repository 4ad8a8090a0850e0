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
    /// Why it was built (nil for a cache hit).
    public var reason: String?
    /// The step's cache key, with its parts.
    public var key: CacheKey
    public var layer: LayerBlob
    public var seconds: Double
    /// For an apt step: the packages installed, as name=version.
    public var packages: [String]?
}
