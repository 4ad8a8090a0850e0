import Layers
import OCI
import Provisioners

/// Computes keys and looks them up, for every step kind and a base's layer alike: used by
/// the walker that build, plan and why share, so all three agree.
struct StepEvaluator: Sendable {
    let store: ContentStore
    let cache: StepCache
    let hasher: InputHasher
    /// Asked when the local cache has no usable entry (`--cache-from`).
    var remote: RemoteCache?

    init(store: ContentStore, cache: StepCache? = nil, remote: RemoteCache? = nil) {
        self.store = store
        self.cache = cache ?? StepCache(store: store)
        self.hasher = InputHasher(store: store)
        self.remote = remote
    }

    /// The key of `step` of `stage` on `state`. With `remember` (builds, under the
    /// exclusive lock) the stat cache and input listings are saved and a re-verified blob's
    /// stamp is kept; plans and `why` pass false and write nothing.
    func evaluate(_ step: Step, of stage: Stage, state: Digest, epoch: Int64, remember: Bool) throws -> StepEvaluation {
        let provisioner = step.provisioner
        let inputs = try StepErrors.mapping(step, of: stage) {
            try provisioner.inputs(InputContext(buildContext: stage.buildContext, hasher: hasher, remember: remember))
        }
        let key = try CacheKey(parent: state, spec: provisioner.spec, inputs: inputs?.listing.digest,
                               secrets: provisioner.secretIDs, network: provisioner.network, epoch: epoch)
        return try lookup(key, inputs: inputs, remember: remember)
    }

    /// The key of a base's one layer, and what the cache holds for it.
    func evaluate(_ recipe: BaseLayerRecipe, remember: Bool) throws -> StepEvaluation {
        let key = try CacheKey(parent: CacheKey.scratch, spec: recipe.spec, inputs: recipe.inputs, secrets: [],
                               network: recipe.network, epoch: recipe.epoch)
        return try lookup(key, inputs: nil, remember: remember)
    }

    /// The local cache first, then the remote cache.
    private func lookup(_ key: CacheKey, inputs: StepInputs?, remember: Bool) throws -> StepEvaluation {
        var evaluation = StepEvaluation(key: key, inputs: inputs, lookup: cache.lookup(key.digest, repair: remember))
        if evaluation.hit == nil, let remote, let hit = try remote.lookup(key.digest) {
            evaluation.lookup = .success(hit.entry)
            evaluation.remote = hit.repository
        }
        return evaluation
    }
}
