import Layers
import OCI
import Provisioners

/// A step's key and what the cache holds for it.
public struct StepEvaluation: Sendable {
    public var key: CacheKey
    /// The files the step reads, if it reads any.
    public var inputs: StepInputs?
    public var lookup: Result<CacheEntry, CacheMiss>
    /// The cache repository the hit came from (`--cache-from`); nil for a local hit or a miss.
    var remote: RemoteCache.Repository?

    /// The cached entry, if usable.
    public var hit: CacheEntry? {
        if case .success(let entry) = lookup { return entry }
        return nil
    }
}
