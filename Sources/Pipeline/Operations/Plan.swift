import Layers
import OCI

/// What `bake build` would do, step by step and why, without doing anything: no layer is
/// written, no cache entry, no stat cache, no record.
public struct Plan: Sendable {
    /// What will happen to one step.
    public enum Status: Sendable {
        /// Taken from the cache.
        case hit(layer: LayerBlob)
        /// Built, for this reason.
        case build(MissReason)
        /// Built because something before it is built first (its key is not known yet).
        case after(String)

        public var isHit: Bool {
            if case .hit = self { return true }
            return false
        }
    }

    public struct StepPlan: Sendable {
        public var step: Step
        public var status: Status
    }

    /// One image of the plan.
    public struct Image: Sendable {
        public var name: String
        public var file: String
        public var base: BaseSource
        public var steps: [StepPlan]
        public var checks: [Check]
        public var config: ConfigPatch
        /// The manifest digest the build will produce, when every step is a hit.
        public var predicted: Digest?
        /// The image's last build, if any.
        public var lastBuild: BuildRecord?
        /// How the first layer of a debian or rootfs base stands (nil for other bases).
        public var baseStatus: Status?
    }

    /// Images in build order, parents first.
    public var images: [Image]

    /// The plan for `targets` (and everything upstream); empty means every image.
    public static func make(
        workspace: Workspace, project: Project, targets: [String], sourceDateEpoch: Int64?, noCache: Bool = false,
        metadata: SourceMetadata = SourceMetadata()
    ) throws -> Plan {
        let order = try project.buildOrder(for: targets)
        let lockFile = try LockFile.load(directory: project.directory)
        let store = workspace.store
        let lock = store.exists ? try workspace.readLock() : nil
        defer { withExtendedLifetime(lock) {} }
        let evaluator = StepEvaluator(store: store)
        var predicted: [String: AssembledImage] = [:]
        var images: [Image] = []
        for name in order {
            let stage = project.stages[name]!
            let previous = BuildRecord.latest(name, store: store)
            var image = Image(name: name, file: stage.file, base: stage.base, steps: [], checks: stage.checks,
                              config: stage.config, predicted: nil, lastBuild: previous)
            var base: ImageBase?
            switch stage.base {
            case .stage(let parent):
                base = try predicted[parent].map { try ImageBase.image($0, sourceDateEpoch: sourceDateEpoch) }
            default:
                let resolved = try ExternalBases(store: store, evaluator: evaluator, reporter: SilentReporter())
                    .resolve(stage, sourceDateEpoch: sourceDateEpoch, noCache: noCache, build: false, threads: 1,
                             pins: lockFile?.images[name]?.upstream)
                base = resolved?.0
                if let layer = resolved?.1 {
                    image.baseStatus = .hit(layer: layer.layer)
                } else if resolved == nil {
                    image.baseStatus = .build(MissReason(summary: noCache ? "--no-cache" : "not in the cache", details: []))
                }
            }
            guard let base else {
                let reason = image.baseStatus == nil ? "after \(stage.base) is built" : "after the base is built"
                image.steps = stage.steps.map { StepPlan(step: $0, status: .after(reason)) }
                images.append(image)
                continue
            }
            var state = base.state
            var layers: [LayerBlob] = []
            var histories: [String] = []
            var blocked: String?
            for step in stage.steps {
                if let blocked {
                    image.steps.append(StepPlan(step: step, status: .after(blocked)))
                    continue
                }
                let evaluation = try evaluator.evaluate(step, of: stage, state: state, epoch: base.epoch, remember: false)
                if !noCache, let hit = evaluation.hit {
                    image.steps.append(StepPlan(step: step, status: .hit(layer: hit.layer)))
                    state = CacheKey.state(after: state, layer: hit.layer.diffID)
                    layers.append(hit.layer)
                    histories.append(hit.history)
                } else {
                    let reason = MissReason.explain(evaluation, step: step, previous: previous, base: base.parent,
                                                    noCache: noCache, hasher: evaluator.hasher)
                    image.steps.append(StepPlan(step: step, status: .build(reason)))
                    blocked = "after step \(step.number) is built"
                }
            }
            if blocked == nil {
                let assembled = try AssembledImage.assemble(stage, base: base, layers: layers, histories: histories, metadata: metadata)
                predicted[name] = assembled
                image.predicted = assembled.manifestDescriptor.digest
            }
            images.append(image)
        }
        return Plan(images: images)
    }
}
