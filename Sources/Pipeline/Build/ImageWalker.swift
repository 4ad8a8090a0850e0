import Diagnostics
import Layers
import OCI
import Provisioners

/// The one walk over an image's base and steps that `bake build`, `bake plan` and `bake
/// why` share, so what a plan predicts is what a build does: the base is resolved and
/// imported, each step's key computed and looked up, a hit taken from the cache, a miss
/// handed to the `MissHandler` (a build runs it; a plan stops there and says why), and the
/// image's config and manifest assembled when every layer is known.
struct ImageWalker {
    let store: ContentStore
    let evaluator: StepEvaluator
    /// How registry bases are pulled.
    let fetcher: any ImageFetcher
    let sourceDateEpoch: Int64?
    let noCache: Bool
    /// The revision, source and version written into images.
    let metadata: SourceMetadata

    /// Walks `stage`, built on `parent` when its base is another image of the pipeline (nil
    /// when that image's digest is not known: a plan after a miss upstream); `pins` are
    /// bake.lock's pins of the image.
    func walk(_ stage: Stage, parent: AssembledImage?, pins: [String: String]?, handler: some MissHandler) throws -> WalkedImage {
        let previous = BuildRecord.latest(stage.name, store: store)
        var walked = WalkedImage(stage: stage, previous: previous)
        let base: ImageBase
        switch stage.base {
        case .image(let name):
            guard let parent else {
                walked.block(stage.steps, "after \(name) is built")
                return walked
            }
            base = try .image(parent, sourceDateEpoch: sourceDateEpoch)
        case .source(let source):
            guard let resolved = try resolveBase(source, of: stage, pins: pins, handler: handler, into: &walked) else {
                walked.block(stage.steps, "after the base is built")
                return walked
            }
            base = resolved
        }
        walked.base = base

        let image = ImageSoFar(base: base, store: store)
        var blocked: String?
        for step in stage.steps {
            if let blocked {
                walked.steps.append(WalkedStep(step: step, status: .blocked(blocked)))
                continue
            }
            let started = ContinuousClock.now
            let evaluation = try evaluator.evaluate(step, of: stage, state: image.state, epoch: base.epoch, remember: handler.remembers)
            if !noCache, let hit = evaluation.hit {
                image.append(hit.layer, history: hit.history, entries: nil)
                walked.steps.append(WalkedStep(step: step, status: .hit, evaluation: evaluation, layer: hit.layer,
                                               packages: hit.packages, seconds: started.secondsSince))
                handler.finished(walked.steps.last!, of: stage)
                continue
            }
            let reason = MissReason.explain(evaluation, step: step, previous: previous, base: base.parent,
                                            noCache: noCache, hasher: evaluator.hasher)
            guard let made = try handler.step(step, of: stage, evaluation: evaluation, reason: reason, image: image) else {
                walked.steps.append(WalkedStep(step: step, status: .planned(reason), evaluation: evaluation))
                blocked = "after step \(step.number) is built"
                continue
            }
            image.append(made.layer, history: made.history, entries: made.entries)
            walked.steps.append(WalkedStep(step: step, status: .built(reason), evaluation: evaluation, layer: made.layer,
                                           packages: made.packages, seconds: started.secondsSince))
            handler.finished(walked.steps.last!, of: stage)
        }
        if blocked == nil {
            walked.assembled = try AssembledImage.assemble(stage, base: base, layers: image.layers, histories: image.histories,
                                                           metadata: metadata)
        }
        return walked
    }

    /// The base of an image built on something outside the pipeline; nil when a plan cannot
    /// know it yet. A Debian or rootfs base's layer is keyed and cached like a step (step 0).
    private func resolveBase(
        _ source: any BaseSource, of stage: Stage, pins: [String: String]?, handler: some MissHandler, into walked: inout WalkedImage
    ) throws -> ImageBase? {
        var context = BaseContext(store: store, image: stage.name, buildContext: stage.buildContext, pins: pins,
                                  build: handler.imports, hasher: evaluator.hasher, fetcher: fetcher)
        context.sourceDateEpoch = sourceDateEpoch
        let started = ContinuousClock.now
        return try Self.mappingBaseErrors(stage) {
            let pin = try source.resolve(context)
            walked.pins = pin.values
            switch try source.importImage(pin, context) {
            case .empty:
                return .scratch(epoch: sourceDateEpoch)
            case .image(let base):
                return base
            case .notYet:
                walked.baseLayer = WalkedStep(base: stage, status: .planned(MissReason(summary: missSummary, details: [])))
                return nil
            case .layer(let recipe):
                let evaluation = try evaluator.evaluate(recipe, remember: handler.remembers)
                if !noCache, let hit = evaluation.hit {
                    walked.baseLayer = WalkedStep(base: stage, status: .hit, evaluation: evaluation, layer: hit.layer,
                                                  seconds: started.secondsSince)
                    handler.finished(walked.baseLayer!, of: stage)
                    return .oneLayer(hit.layer, history: hit.history, recipe: recipe)
                }
                let reason = MissReason(summary: missSummary, details: [])
                guard let made = try handler.baseLayer(recipe, label: type(of: source).kind, of: stage, evaluation: evaluation,
                                                       reason: reason) else {
                    walked.baseLayer = WalkedStep(base: stage, status: .planned(reason), evaluation: evaluation)
                    return nil
                }
                walked.baseLayer = WalkedStep(base: stage, status: .built(reason), evaluation: evaluation, layer: made.layer,
                                              seconds: started.secondsSince)
                handler.finished(walked.baseLayer!, of: stage)
                return .oneLayer(made.layer, history: made.history, recipe: recipe)
            }
        }
    }

    private var missSummary: String { noCache ? "--no-cache" : "not in the cache" }

    /// A base's errors name the stage file's `from:`; a file system or archive problem
    /// says the base could not be made.
    static func mappingBaseErrors<T>(_ stage: Stage, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as PipelineError {
            throw error
        } catch let error as ProvisionersError where error.isAboutTheHost {
            // Not about the stage file: "interrupted", which package to install, or where
            // to put the store.
            throw error
        } catch let error as LayersError {
            throw ErrorWithContext("\(stage.baseLocation): the base of \(stage.name) could not be made", cause: error)
        } catch {
            throw ErrorWithContext("\(stage.baseLocation)", cause: error)
        }
    }
}

extension ContinuousClock.Instant {
    /// Seconds from this instant to now.
    var secondsSince: Double {
        let elapsed = (ContinuousClock.now - self).components
        return Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
    }
}

extension ProvisionersError {
    var isAboutTheHost: Bool {
        switch self {
        case .interrupted, .missingTool, .unusableFileSystem: return true
        default: return false
        }
    }
}
