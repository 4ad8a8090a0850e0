import Foundation
import Layers
import OCI

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

    public init(
        targets: [String], sourceDateEpoch: Int64?, compressionThreads: Int = GzipSink.defaultThreads,
        noCache: Bool = false, jobs: Int = 1
    ) {
        self.targets = targets
        self.sourceDateEpoch = sourceDateEpoch
        self.compressionThreads = compressionThreads
        self.noCache = noCache
        self.jobs = max(1, jobs)
    }
}

/// Builds images from a validated project into the store: cached steps are reused, the
/// rest run, images not built on one another build in parallel.
public final class Builder: Sendable {
    let project: Project
    let store: ContentStore
    let reporter: BuildReporter
    let evaluator: StepEvaluator
    /// Serialises the store's index and records between images building in parallel.
    private let indexLock = ThreadLock()

    public init(project: Project, store: ContentStore, reporter: BuildReporter) {
        self.project = project
        self.store = store
        self.reporter = reporter
        self.evaluator = StepEvaluator(store: store)
    }

    /// Builds `options.targets` and everything upstream of them, parents first. Input
    /// problems that can be seen before building are reported before the store is touched.
    public func build(_ options: BuildOptions) throws -> [BuiltImage] {
        let order = try project.buildOrder(for: options.targets)
        try Self.checkSupported(order.map { project.stages[$0]! })

        // The lock first: two processes creating a fresh store must not race on its files.
        let lock = try store.lock(exclusive: true) { reporter.report(.waitingForLock(store.lockPath)) }
        defer { withExtendedLifetime(lock) {} }
        try store.create()
        try store.validateLayout()
        try store.removeTemporaryFiles()

        let built = try schedule(order, jobs: options.jobs) { name, parent in
            try self.buildImage(self.project.stages[name]!, parent: parent, options: options)
        }
        return try order.map { name in
            guard let image = built[name] else {
                throw PipelineError.failed("bake did not build \(name) and does not know why; please report this")
            }
            return image
        }
    }

    /// Rejects, with their location, the parts of stage files this version cannot build.
    public static func checkSupported(_ stages: [Stage]) throws {
        for stage in stages {
            switch stage.base {
            case .scratch, .stage: break
            case .debian: throw PipelineError.notSupportedYet(stage.baseLocation, "'from: {debian: ...}'")
            case .registry: throw PipelineError.notSupportedYet(stage.baseLocation, "'from: {image: ...}'")
            case .ociLayout: throw PipelineError.notSupportedYet(stage.baseLocation, "'from: {oci: ...}'")
            case .rootfs: throw PipelineError.notSupportedYet(stage.baseLocation, "'from: {rootfs: ...}'")
            }
            for step in stage.steps {
                switch step.action {
                case .copy, .remove: break
                case .run: throw PipelineError.notSupportedYet(step.location, "a 'run' step")
                case .apt: throw PipelineError.notSupportedYet(step.location, "an 'apt' step")
                }
            }
            if let check = stage.checks.first {
                throw PipelineError.notSupportedYet(check.location, "'checks:'")
            }
        }
    }

    // MARK: - Scheduling

    /// Runs `body` for every image of `order`, each after its parent, up to `jobs` at once.
    /// The first failure stops new images from starting; images already running finish.
    private func schedule(
        _ order: [String], jobs: Int, body: @escaping @Sendable (String, BuiltImage?) throws -> BuiltImage
    ) throws -> [String: BuiltImage] {
        let state = ScheduleState()
        let finished = DispatchSemaphore(value: 0)
        while true {
            let launch: [(String, BuiltImage?)] = state.lock.withLock {
                guard state.failure == nil else { return [] }
                var ready: [(String, BuiltImage?)] = []
                for name in order where state.done[name] == nil && !state.running.contains(name) {
                    guard state.running.count + ready.count < jobs else { break }
                    if let parent = project.parent(of: name) {
                        guard let parentImage = state.done[parent] else { continue }
                        ready.append((name, parentImage))
                    } else {
                        ready.append((name, nil))
                    }
                }
                for (name, _) in ready { state.running.insert(name) }
                return ready
            }
            for (name, parent) in launch {
                let thread = Thread {
                    let result = Result { try body(name, parent) }
                    state.lock.withLock {
                        state.running.remove(name)
                        switch result {
                        case .success(let image): state.done[name] = image
                        case .failure(let error): if state.failure == nil { state.failure = error }
                        }
                    }
                    finished.signal()
                }
                // Layer writing reads and compresses in big buffers; give it room.
                thread.stackSize = 8 << 20
                thread.start()
            }
            let (running, failure, done) = state.lock.withLock {
                (state.running.count, state.failure, state.done.count)
            }
            if done == order.count && running == 0 { break }
            if running == 0 {
                if failure != nil { break }
                // Whatever was launched has already finished: look for what is ready now.
                // Nothing launched and nothing running would mean an image can never start.
                guard !launch.isEmpty else {
                    let finishedNames = state.lock.withLock { Set(state.done.keys) }
                    let waiting = order.filter { !finishedNames.contains($0) }
                    throw PipelineError.failed("bake could not schedule \(waiting.joined(separator: ", ")); please report this")
                }
                continue
            }
            // A finished image signals; a stale signal only makes the loop look again.
            finished.wait()
        }
        if let failure = state.lock.withLock({ state.failure }) { throw failure }
        return state.lock.withLock { state.done }
    }

    private final class ScheduleState: @unchecked Sendable {
        let lock = ThreadLock()
        var done: [String: BuiltImage] = [:]
        var running: Set<String> = []
        var failure: (any Error)?
    }

    // MARK: - One image

    private func buildImage(_ stage: Stage, parent: BuiltImage?, options: BuildOptions) throws -> BuiltImage {
        let started = ContinuousClock.now
        reporter.report(.imageStarted(image: stage.name, file: stage.file, base: stage.base.description, steps: stage.steps.count))
        let base = parent.map { ImageBase.image($0.assembled, sourceDateEpoch: options.sourceDateEpoch) }
            ?? ImageBase.scratch(epoch: options.sourceDateEpoch)
        let previous = BuildRecord.latest(stage.name, store: store)

        var state = base.state
        var layers: [LayerBlob] = []
        var histories: [String] = []
        var results: [StepResult] = []
        var tree: ImageFilesystem?
        for step in stage.steps {
            let stepStarted = ContinuousClock.now
            let evaluation = try evaluator.evaluate(step, of: stage, state: state, epoch: base.epoch, remember: true)
            var layer: LayerBlob
            var history: String
            var reason: String?
            if !options.noCache, let hit = evaluation.hit {
                layer = hit.layer
                history = hit.history
                // The tree no longer matches; it is rebuilt from the layers if a later step needs it.
                tree = nil
            } else {
                let why = MissReason.explain(evaluation, step: step, previous: previous, base: base.parent,
                                             noCache: options.noCache, hasher: evaluator.hasher)
                reason = why.summary
                reporter.report(.stepStarted(image: stage.name, step: step.number, of: stage.steps.count,
                                             summary: step.action.summary, reason: why.summary))
                (layer, history, tree) = try runStep(step, of: stage, base: base, layers: layers, tree: tree, options: options)
                do {
                    try evaluator.cache.record(key: evaluation.key.digest, layer: layer, history: history)
                } catch {
                    throw PipelineError.failed("cannot save the cache entry of step \(step.number) of \(stage.name): \(error)")
                }
            }
            state = CacheKey.state(after: state, layer: layer.diffID)
            layers.append(layer)
            histories.append(history)
            let result = StepResult(
                image: stage.name, step: step.number, of: stage.steps.count, summary: step.action.summary,
                cached: reason == nil, reason: reason, key: evaluation.key, layer: layer,
                seconds: Self.seconds(since: stepStarted)
            )
            results.append(result)
            reporter.report(.stepFinished(result))
        }

        let assembled = try AssembledImage.assemble(stage, base: base, layers: layers, histories: histories)
        try store.ensure(assembled.configBytes)
        try store.ensure(assembled.manifestBytes)
        var image = BuiltImage(name: stage.name, assembled: assembled, steps: results, parent: base.parent,
                               seconds: Self.seconds(since: started))
        try indexLock.withLock {
            if try store.image(named: stage.name)?.digest != assembled.manifestDescriptor.digest {
                try store.setImage(stage.name, manifest: assembled.manifestDescriptor)
            }
            // A build that changed nothing leaves no record (and writes nothing at all).
            if results.contains(where: { !$0.cached }) || previous?.manifest != assembled.manifestDescriptor.digest {
                _ = try BuildRecord.write(BuildRecord(
                    image: stage.name, sequence: 0, manifest: assembled.manifestDescriptor.digest,
                    config: assembled.manifest.config.digest, parent: base.parent, baseState: base.state,
                    layers: assembled.manifest.layers.map(\.digest),
                    steps: results.map {
                        .init(number: $0.step, summary: $0.summary, key: $0.key,
                              layer: $0.layer.descriptor.digest, diffID: $0.layer.diffID, size: $0.layer.descriptor.size,
                              cached: $0.cached, seconds: $0.seconds)
                    },
                    sourceDateEpoch: options.sourceDateEpoch, finishedAt: Timestamp.rfc3339(Int64(time(nil)))
                ), store: store)
            }
        }
        image.seconds = Self.seconds(since: started)
        reporter.report(.imageFinished(image))
        return image
    }

    /// Runs a step that is not cached: writes its layer and returns it with its history
    /// text and the image tree after it.
    private func runStep(
        _ step: Step, of stage: Stage, base: ImageBase, layers: [LayerBlob], tree: ImageFilesystem?, options: BuildOptions
    ) throws -> (LayerBlob, String, ImageFilesystem) {
        let allLayers = base.layers + layers.map(\.descriptor)
        do {
            let tree = try tree ?? store.filesystem(layers: allLayers, diffIDs: base.diffIDs + layers.map(\.diffID))
            let writer = try LayerWriter(store: store, threads: options.compressionThreads)
            let output: StepOutput
            switch step.action {
            case .copy(let copy):
                let (uid, gid) = try resolveOwner(copy.owner, tree: tree, layers: allLayers)
                output = try CopyLayer(stage: stage, copy: copy, epoch: base.epoch, uid: uid, gid: gid).write(into: writer, below: tree)
            case .remove(let paths):
                output = try RemoveLayer(paths: paths, epoch: base.epoch).write(into: writer, below: tree)
            case .run, .apt:
                throw PipelineError.notSupportedYet(step.location, "a '\(step.action.kind)' step")
            }
            let blob = try writer.commit()
            tree.apply(layer: output.entries, index: allLayers.count)
            return (blob, output.history, tree)
        } catch let error as StepInputError {
            throw PipelineError.stepInput(image: stage.name, step: step.number, location: step.location, message: error.message)
        } catch let error as PipelineError {
            throw error
        } catch {
            throw PipelineError.stepFailed(image: stage.name, step: step.number, location: step.location, cause: error)
        }
    }

    private func resolveOwner(_ owner: OwnerSpec?, tree: ImageFilesystem, layers: [Descriptor]) throws -> (UInt32, UInt32) {
        guard let owner else { return (0, 0) }
        var database: UserDatabase?
        func users() throws -> UserDatabase {
            if let database { return database }
            let passwd = try store.readFile(try RelativePath("etc/passwd"), in: tree, layers: layers)
            let group = try store.readFile(try RelativePath("etc/group"), in: tree, layers: layers)
            database = UserDatabase(passwd: passwd, group: group)
            return database!
        }
        let uid: UInt32
        let primaryGroup: UInt32
        switch owner.user {
        case .id(let id):
            uid = id
            primaryGroup = id
        case .name(let name):
            guard let user = try users().users[name] else {
                throw StepInputError("owner '\(owner)': the image below has no user '\(name)' in /etc/passwd")
            }
            uid = user.uid
            primaryGroup = user.gid
        }
        switch owner.group {
        case nil:
            return (uid, primaryGroup)
        case .id(let id)?:
            return (uid, id)
        case .name(let name)?:
            guard let gid = try users().groups[name] else {
                throw StepInputError("owner '\(owner)': the image below has no group '\(name)' in /etc/group")
            }
            return (uid, gid)
        }
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = (ContinuousClock.now - start).components
        return Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
    }
}
