import Layers
import OCI

/// A step's key and what the cache holds for it.
public struct StepEvaluation: Sendable {
    public var key: CacheKey
    public var inputs: InputListing?
    public var lookup: Result<CacheEntry, CacheMiss>

    /// The cached entry, if usable.
    public var hit: CacheEntry? {
        if case .success(let entry) = lookup { return entry }
        return nil
    }
}

/// Computes keys and looks them up: shared by build, plan and why, so all three agree.
struct StepEvaluator: Sendable {
    let store: ContentStore
    let cache: StepCache
    let hasher: InputHasher

    init(store: ContentStore) {
        self.store = store
        self.cache = StepCache(store: store)
        self.hasher = InputHasher(store: store)
    }

    /// The key of `step` of `stage` on `state`. With `remember` (builds, under the
    /// exclusive lock) the stat cache and input listings are saved and a re-verified blob's
    /// stamp is kept; plans and `why` pass false and write nothing.
    func evaluate(_ step: Step, of stage: Stage, state: Digest, epoch: Int64, remember: Bool) throws -> StepEvaluation {
        var inputs: InputListing?
        var network = false
        var secrets: [String] = []
        switch step.action {
        case .copy(let copy):
            guard let host = FileSystem.realPath(stage.directory + "/" + copy.source) else {
                throw PipelineError.stepInput(image: stage.name, step: step.number, location: step.location,
                                              message: "copy source '\(copy.source)' does not exist in images/\(stage.name)")
            }
            do {
                inputs = try hasher.listing(of: host, remember: remember)
            } catch let error as LayersError {
                throw PipelineError.stepFailed(image: stage.name, step: step.number, location: step.location, cause: error)
            }
        case .run(let run):
            network = run.network
            secrets = run.secrets
        case .apt:
            network = true
        case .remove:
            break
        }
        let key = try CacheKey(parent: state, spec: StepSpec(step.action), inputs: inputs?.digest,
                               secrets: secrets, network: network, epoch: epoch)
        return StepEvaluation(key: key, inputs: inputs, lookup: cache.lookup(key.digest, repair: remember))
    }
}
