import Diagnostics
import Layers
import OCI
import Provisioners

/// How a build treats a miss: the step applies itself in a fresh layer (and, for run and
/// apt steps, a machine on the image below), and the result is saved in the step cache.
struct StepRunner: MissHandler {
    let store: ContentStore
    let cache: StepCache
    let reporter: BuildReporter
    let machines: any MachineFactory
    /// Secret values by id; each step sees the ones it lists.
    let secrets: [String: [UInt8]]
    /// Threads compressing a layer (never changes the bytes).
    let threads: Int
    /// The registry step cache (`--cache-from`, `--cache-to`), if any.
    let remote: RemoteCache?

    var remembers: Bool { true }
    var imports: Bool { true }

    func step(_ step: Step, of stage: Stage, evaluation: StepEvaluation, reason: MissReason, image: ImageSoFar) throws -> MadeLayer? {
        // The plan saw which steps run before the build began; a step it could not know
        // (after a base rebuilt into the same bytes) is checked as it starts.
        try Builder.requireSecrets(of: step, in: stage, given: secrets)
        reporter.report(.stepStarted(image: stage.name, step: step.number, of: stage.steps.count, summary: step.summary,
                                     reason: reason.summary))
        // The layers below, when some came from the remote cache, must have arrived.
        try remote?.materialize(image.stack.layers)
        let made = try StepErrors.mapping(step, of: stage) { () throws -> MadeLayer in
            let tree = try image.filesystem()
            let stack = image.stack
            let writer = try LayerWriter(store: store, threads: threads)
            var context = StepContext(
                image: stage.name, label: "step \(step.number)", buildContext: stage.buildContext,
                below: ImageBelow(stack: stack, tree: tree, config: image.base.config), epoch: image.base.epoch,
                layer: writer.tar, machines: machines, users: ImageUsers(store: store, tree: tree, layers: stack.layers))
            context.secrets = secrets.filter { step.provisioner.secretIDs.contains($0.key) }
            context.output = output(image: stage.name, label: context.label)
            let outcome = try step.provisioner.apply(context)
            let layer = try writer.commit()
            return MadeLayer(layer: layer, history: outcome.history, entries: outcome.entries, packages: outcome.packages)
        }
        try save(evaluation, made, what: "step \(step.number) of \(stage.name)")
        return made
    }

    func baseLayer(
        _ recipe: BaseLayerRecipe, label: String, of stage: Stage, evaluation: StepEvaluation, reason: MissReason
    ) throws -> MadeLayer? {
        reporter.report(.stepStarted(image: stage.name, step: 0, of: stage.steps.count, summary: "from " + recipe.summary,
                                     reason: reason.summary))
        let writer = try LayerWriter(store: store, threads: threads)
        try recipe.make(BaseLayerContext(store: store, layer: writer.tar, output: output(image: stage.name, label: label)))
        let made = MadeLayer(layer: try writer.commit(), history: recipe.summary)
        try save(evaluation, made, what: "the base of \(stage.name)")
        return made
    }

    func finished(_ walked: WalkedStep, of stage: Stage) {
        if let remote, case .hit = walked.status, let evaluation = walked.evaluation, let entry = evaluation.hit {
            if let source = evaluation.remote {
                remote.fetch(RemoteCache.Hit(entry: entry, repository: source))
            }
            remote.publish(entry, from: evaluation.remote)
        }
        if let result = walked.result(of: stage) { reporter.report(.stepFinished(result)) }
    }

    private func save(_ evaluation: StepEvaluation, _ made: MadeLayer, what: String) throws {
        try withContext("cannot save the cache entry of \(what)") {
            try cache.record(key: evaluation.key.digest, layer: made.layer, history: made.history, packages: made.packages)
        }
        remote?.publish(CacheEntry(key: evaluation.key.digest, layer: made.layer, history: made.history, packages: made.packages))
    }

    private func output(image: String, label: String) -> @Sendable (String) -> Void {
        let reporter = self.reporter
        return { line in reporter.report(.output(image: image, label: label, line: line)) }
    }
}
