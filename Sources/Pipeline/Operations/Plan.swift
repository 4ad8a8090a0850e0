import Layers
import OCI
import Provisioners

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
        public var base: StageBase
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

    /// The plan for `targets` (and everything upstream); empty means every image. It walks
    /// the same code as a build (`ImageWalker`), stopping at each image's first miss.
    public static func make(
        workspace: Workspace, project: Project, targets: [String], sourceDateEpoch: Int64?, noCache: Bool = false,
        metadata: SourceMetadata = SourceMetadata()
    ) throws -> Plan {
        let order = try project.buildOrder(for: targets)
        let lockFile = try LockFile.load(directory: project.directory)
        let store = workspace.store
        let lock = store.exists ? try workspace.readLock() : nil
        defer { withExtendedLifetime(lock) {} }
        // A plan never reaches a registry: a base not pulled yet is built first.
        let walker = ImageWalker(store: store, evaluator: StepEvaluator(store: store), fetcher: NoImageFetcher(),
                                 sourceDateEpoch: sourceDateEpoch, noCache: noCache, metadata: metadata)
        var predicted: [String: AssembledImage] = [:]
        var images: [Image] = []
        for name in order {
            let stage = project.stages[name]!
            let parent = stage.base.parentImage.flatMap { predicted[$0] }
            let walked = try walker.walk(stage, parent: parent, pins: lockFile?.images[name]?.upstream, handler: PlanningHandler())
            predicted[name] = walked.assembled
            images.append(Image(
                name: name, file: stage.file, base: stage.base,
                steps: walked.steps.compactMap { walkedStep in walkedStep.step.map { StepPlan(step: $0, status: Status(walkedStep)) } },
                checks: stage.checks, config: stage.config, predicted: walked.assembled?.manifestDescriptor.digest,
                lastBuild: walked.previous, baseStatus: walked.baseLayer.map(Status.init)))
        }
        return Plan(images: images)
    }
}

extension Plan.Status {
    /// How the walker left a step, as a plan says it.
    init(_ walked: WalkedStep) {
        switch walked.status {
        case .hit: self = walked.layer.map { .hit(layer: $0) } ?? .after("after the base is built")
        case .built(let reason), .planned(let reason): self = .build(reason)
        case .blocked(let reason): self = .after(reason)
        }
    }
}
