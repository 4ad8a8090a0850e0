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
        /// The manifest the store names the image now (what push, run and export use).
        public var current: Digest?
        /// The image config the build will write, when every step is a hit.
        public var predictedConfig: [UInt8]?
        /// The image's last build, if any.
        public var lastBuild: BuildRecord?
        /// How the first layer of a debian or rootfs base stands (nil for other bases).
        public var baseStatus: Status?

        /// True when a build would change nothing: every step is a hit and the image it
        /// gives is the one the store names. After a revert every step is a hit, yet the
        /// store still names the reverted build: a (cached) build names the image again.
        public var isUpToDate: Bool { predicted != nil && predicted == current }

        /// True when `step` of this image will run for sure: a miss the plan sees, or any
        /// step of an image never built. One after a rebuilt step or parent of an image built
        /// before may still be a hit (a rebuild into the same bytes): false.
        public func certainlyRuns(_ step: StepPlan) -> Bool {
            switch step.status {
            case .build: return true
            case .after: return lastBuild == nil
            case .hit: return false
            }
        }
    }

    /// Images in build order, parents first.
    public var images: [Image]

    /// The plan for `targets` (and everything upstream); empty means every image. It walks
    /// the same code as a build (`ImageWalker`), stopping at each image's first miss.
    public static func make(
        workspace: Workspace, project: Project, targets: [String], sourceDateEpoch: Int64?, noCache: Bool = false,
        metadata: SourceMetadata = SourceMetadata()
    ) throws -> Plan {
        let lock = workspace.store.exists ? try workspace.readLock() : nil
        defer { withExtendedLifetime(lock) {} }
        return try make(store: workspace.store, project: project, order: try project.buildOrder(for: targets),
                        sourceDateEpoch: sourceDateEpoch, noCache: noCache, metadata: metadata)
    }

    /// The plan for `order` (images in build order), read from `store` under a lock the
    /// caller holds (or with no store yet).
    static func make(
        store: ContentStore, project: Project, order: [String], sourceDateEpoch: Int64?, noCache: Bool, metadata: SourceMetadata,
        evaluator: StepEvaluator? = nil
    ) throws -> Plan {
        let lockFile = try LockFile.load(directory: project.directory)
        // A plan reaches no registry for bases (one not pulled yet is built first); a build's
        // plan asks the build's remote cache, whose answers the build then reuses.
        let walker = ImageWalker(store: store, evaluator: evaluator ?? StepEvaluator(store: store), fetcher: NoImageFetcher(),
                                 sourceDateEpoch: sourceDateEpoch, noCache: noCache, metadata: metadata)
        var predicted: [String: AssembledImage] = [:]
        var images: [Image] = []
        for name in order {
            let stage = project.stages[name]!
            let parent = stage.base.parentImage.flatMap { predicted[$0] }
            let walked = try walker.walk(stage, parent: parent, pins: lockFile?.images[name]?.upstream, handler: PlanningHandler())
            predicted[name] = walked.assembled
            let current = store.exists ? try store.image(named: name)?.digest : nil
            images.append(Image(
                name: name, file: stage.file, base: stage.base,
                steps: walked.steps.compactMap { walkedStep in walkedStep.step.map { StepPlan(step: $0, status: Status(walkedStep)) } },
                checks: stage.checks, config: stage.config, predicted: walked.assembled?.manifestDescriptor.digest,
                current: current, predictedConfig: walked.assembled?.configBytes, lastBuild: walked.previous, baseStatus: walked.baseLayer.map(Status.init)))
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
