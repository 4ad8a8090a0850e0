import Layers
import Provisioners

/// Options of one build.
public struct BuildOptions: Sendable {
    /// Images to build (with everything upstream); empty means all.
    public var targets: [String]
    /// `SOURCE_DATE_EPOCH`, when set.
    public var sourceDateEpoch: Int64?
    /// Threads compressing a layer; never changes the bytes.
    public var compressionThreads: Int
    /// Build every step even when the cache has it.
    public var noCache: Bool
    /// Images built at the same time (those not built on one another).
    public var jobs: Int
    /// Secret values by id (`--secret`); only their ids ever enter a key or a record.
    public var secrets: [String: [UInt8]] = [:]
    /// Revision, source and version written into every image.
    public var metadata = SourceMetadata()
    /// `--locked`: fail when a result differs from bake.lock, and leave bake.lock as it is.
    public var locked = false
    /// How registries of `from: {image: ...}` bases are reached.
    public var registries = RegistryAccess()
    /// The most memory and processes a step or check may ask for (`--max-memory`,
    /// `--max-pids`; unset: the defaults): a stage file cannot take more of the machine.
    public var ceiling = ResourceLimits()
    /// The step cache shared through registries (`--cache-from`, `--cache-to`).
    public var cache = RemoteCacheOptions()

    public init(
        targets: [String], sourceDateEpoch: Int64?, compressionThreads: Int = GzipSink.defaultThreads, noCache: Bool = false,
        jobs: Int = 1
    ) {
        self.targets = targets
        self.sourceDateEpoch = sourceDateEpoch
        self.compressionThreads = compressionThreads
        self.noCache = noCache
        self.jobs = max(1, jobs)
    }
}
