import Diagnostics
import Foundation
import Layers
import OCI
import Provisioners
import Synchronization

/// Builds images from a validated project into the store. It only orchestrates: the graph
/// gives the order, the scheduler runs images not built on one another in parallel, the
/// walker (shared with plan and why) takes each step from the cache or runs it, and the
/// builder commits the result: checks, the image's name, its build record, bake.lock.
public final class Builder: Sendable {
    let project: Project
    let store: ContentStore
    let reporter: BuildReporter
    let evaluator: StepEvaluator
    /// How run and apt steps and checks reach a machine; nil: sandboxes on this host, under
    /// the build's `ceiling`.
    let machineFactory: (any MachineFactory)?
    /// Serialises the store's index and records between images building in parallel.
    private let commitLock = Mutex(())

    public init(project: Project, store: ContentStore, reporter: BuildReporter, machines: (any MachineFactory)? = nil) {
        self.project = project
        self.store = store
        self.reporter = reporter
        self.evaluator = StepEvaluator(store: store)
        self.machineFactory = machines
    }

    private func machines(_ options: BuildOptions) -> any MachineFactory {
        machineFactory ?? OverlayMachineFactory(store: store, ceiling: options.ceiling) { [reporter] in reporter.report(.warning($0)) }
    }

    /// Builds `options.targets` and everything upstream of them, parents first. Input
    /// problems that can be seen before building are reported before the store is touched.
    public func build(_ options: BuildOptions) throws -> [BuiltImage] {
        let order = try project.buildOrder(for: options.targets)
        // The registry cache's clients are the build's: closed when it is done.
        defer { options.registries.shutdown() }
        let remote = try RemoteCache(options.cache, access: options.registries, store: store, cache: evaluator.cache) { [reporter] in
            reporter.report(.warning($0))
        }
        var evaluator = self.evaluator
        // --no-cache reads no cache, but still writes the one --cache-to names.
        evaluator.remote = options.noCache ? nil : remote
        try checkSecrets(order, options: options, evaluator: evaluator)
        try Self.checkLimits(order.map { project.stages[$0]! }, ceiling: options.ceiling)
        let lock = try LockFile.load(directory: project.directory)
        if options.locked {
            for name in order where lock?.images[name]?.isBuilt != true {
                throw PipelineError.lockMismatch(image: name, differences: [
                    lock == nil ? "the project has no bake.lock" : "bake.lock has no result for it"])
            }
        }

        // The lock first: two processes creating a fresh store must not race on its files.
        let storeLock = try store.lock(exclusive: true) { reporter.report(.waitingForLock(store.lockPath)) }
        defer { withExtendedLifetime(storeLock) {} }
        try store.create()
        try store.validateLayout()
        for problem in store.removeTemporaryFiles() { reporter.report(.warning(problem)) }

        // Bad input found only while building (an unknown owner, a refused base, a check's
        // unknown user) changes nothing in the store: what the build wrote is rolled back,
        // layers of the steps before it included. Any other failure keeps what is valid.
        try store.beginJournal()
        do {
            let images = try buildUnderLock(order, lock: lock, options: options, evaluator: evaluator, remote: remote)
            store.endJournal()
            return images
        } catch {
            if BakeExitStatus(for: error) == .badInput {
                for problem in store.rollBackJournal() { reporter.report(.warning(problem)) }
            } else {
                store.endJournal()
            }
            throw error
        }
    }

    /// The build itself, once the store is locked and recording.
    private func buildUnderLock(
        _ order: [String], lock: LockFile?, options: BuildOptions, evaluator: StepEvaluator, remote: RemoteCache?
    ) throws -> [BuiltImage] {
        let fetcher = RegistryImageFetcher(access: options.registries, store: store)
        defer { fetcher.shutdown() }
        // Nothing the remote cache started may touch the store once the build lets go of it.
        defer { remote?.settle() }
        let walker = ImageWalker(store: store, evaluator: evaluator, fetcher: fetcher, sourceDateEpoch: options.sourceDateEpoch,
                                 noCache: options.noCache, metadata: options.metadata)
        let graph = project
        let scheduler = ImageScheduler<BuiltImage>(order: order, jobs: options.jobs) { graph.parent(of: $0) }
        let built = try scheduler.run { name, parent in
            try self.buildImage(graph.stages[name]!, parent: parent, walker: walker, remote: remote, options: options,
                                lock: lock?.images[name])
        }
        let images = try order.map { name in
            guard let image = built[name] else {
                throw PipelineError.failed("bake did not build \(name) and does not know why; please report this")
            }
            return image
        }
        try remote?.finish()
        if !options.locked {
            var updated = lock ?? LockFile()
            for image in images { updated.images[image.name] = try LockFile.Image(image, options: options) }
            updated.keepOnly(Set(project.names))
            try updated.save(directory: project.directory)
        }
        return images
    }

    /// A step that will run and lists a secret not given stops the build before anything is
    /// built. A step taken from the cache needs no secret (a pull request's build without
    /// secrets reuses the cache), so when a secret is missing the plan (the same walk as the
    /// build, writing nothing) says which steps certainly run; one after a step or parent
    /// that is rebuilt may still be a hit (the same bytes again), and is checked as it starts.
    func checkSecrets(_ order: [String], options: BuildOptions, evaluator: StepEvaluator) throws {
        let missing = order.contains { name in
            project.stages[name]!.steps.contains { step in step.provisioner.secretIDs.contains { options.secrets[$0] == nil } }
        }
        guard missing else { return }
        let lock = store.exists ? try store.lock(exclusive: false) { [reporter, store] in reporter.report(.waitingForLock(store.lockPath)) } : nil
        defer { withExtendedLifetime(lock) {} }
        let plan = try Plan.make(store: store, project: project, order: order, sourceDateEpoch: options.sourceDateEpoch,
                                 noCache: options.noCache, metadata: options.metadata, evaluator: evaluator)
        for image in plan.images {
            for step in image.steps where image.certainlyRuns(step) {
                try Self.requireSecrets(of: step.step, in: project.stages[image.name]!, given: options.secrets)
            }
        }
    }

    /// Fails when `step` lists a secret that is not given (also checked as the step starts).
    static func requireSecrets(of step: Step, in stage: Stage, given: [String: [UInt8]]) throws {
        for id in step.provisioner.secretIDs where given[id] == nil {
            throw PipelineError.stepInput(
                image: stage.name, what: "step \(step.number)", location: step.location,
                message: "secret '\(id)' is not given, and the step is not in the cache; pass --secret id=\(id),env=VARIABLE or --secret id=\(id),src=FILE")
        }
    }

    /// Fails, before anything is built, when a step or check asks for more memory or
    /// processes than the build allows (`BuildOptions.ceiling`).
    public static func checkLimits(_ stages: [Stage], ceiling: ResourceLimits) throws {
        for stage in stages {
            let commands = stage.steps.map { ("step \($0.number)", $0.location, $0.provisioner.limits) }
                + stage.checks.enumerated().map { ("check \($0.offset + 1)", $0.element.location, $0.element.limits) }
            for (what, location, limits) in commands {
                do {
                    _ = try limits.bounded(by: ceiling)
                } catch let error as InputError {
                    throw PipelineError.stepInput(image: stage.name, what: what, location: location, message: error.message)
                }
            }
        }
    }

    // MARK: - One image

    private func buildImage(
        _ stage: Stage, parent: BuiltImage?, walker: ImageWalker, remote: RemoteCache?, options: BuildOptions, lock: LockFile.Image?
    ) throws -> BuiltImage {
        let started = ContinuousClock.now
        reporter.report(.imageStarted(image: stage.name, file: stage.file, base: stage.base.description, steps: stage.steps.count))
        let runner = StepRunner(store: store, cache: evaluator.cache, reporter: reporter, machines: machines(options),
                                secrets: options.secrets, threads: options.compressionThreads, remote: remote)
        var walked: WalkedImage
        do {
            walked = try walker.walk(stage, parent: parent?.assembled, pins: lock?.upstream, handler: runner)
            // Layers from the remote cache are in the store before the image is named.
            try remote?.materialize(walked.assembled?.manifest.layers ?? [])
        } catch let failure as RemoteCache.DownloadFailed {
            // A layer the cache named did not arrive: walked again, the image takes what did
            // arrive from the local cache and builds the rest here.
            try remote?.stopReading(failure)
            walked = try walker.walk(stage, parent: parent?.assembled, pins: lock?.upstream, handler: runner)
        }
        guard let assembled = walked.assembled, let base = walked.base else {
            throw PipelineError.failed("bake did not finish the steps of \(stage.name) and does not know why; please report this")
        }
        let results = walked.results
        if options.locked {
            // A result that differs from bake.lock is not named.
            let differences = try LockCheck.differences(
                assembled, steps: results, locked: lock, metadata: options.metadata, store: store)
            if !differences.isEmpty { throw PipelineError.lockMismatch(image: stage.name, differences: differences) }
        }
        try store.ensure(assembled.configBytes)
        try store.ensure(assembled.manifestBytes)
        let checks = ImageChecks.digest(stage)
        let named = try store.image(named: stage.name)?.digest
        let previous = walked.previous
        if let checks, options.noCache || named != assembled.manifestDescriptor.digest || previous?.checks != checks {
            // A failing check throws here: the image is not named.
            try ImageChecks(store: store, reporter: reporter, machines: machines(options)).run(stage, image: assembled, epoch: base.epoch)
        } else if checks != nil {
            for number in stage.checks.indices {
                reporter.report(.checkFinished(image: stage.name, check: number + 1, of: stage.checks.count, result: .cached, seconds: 0))
            }
        }
        var image = BuiltImage(name: stage.name, assembled: assembled, steps: results, parent: base.parent,
                               seconds: started.secondsSince, upstream: walked.pins)
        try commitLock.withLock { _ in
            if try store.image(named: stage.name)?.digest != assembled.manifestDescriptor.digest {
                try store.setImage(stage.name, manifest: assembled.manifestDescriptor)
            }
            // A build that changed nothing leaves no record (and writes nothing at all).
            if results.contains(where: { !$0.cached }) || previous?.manifest != assembled.manifestDescriptor.digest
                || previous?.checks != checks || previous?.sourceDateEpoch != options.sourceDateEpoch {
                _ = try BuildRecord.write(BuildRecord(image, baseState: base.state, checks: checks, options: options), store: store)
            }
        }
        image.seconds = started.secondsSince
        reporter.report(.imageFinished(image))
        return image
    }
}

extension WalkedImage {
    /// How each layer of a built image went, the base's layer (step 0) first.
    var results: [StepResult] {
        ([baseLayer].compactMap { $0 } + steps).compactMap { $0.result(of: stage) }
    }
}

extension WalkedStep {
    /// How the step went, once its layer is known (from the cache or built).
    func result(of stage: Stage) -> StepResult? {
        guard let evaluation, let layer else { return nil }
        var reason: String?
        if case .built(let why) = status { reason = why.summary }
        return StepResult(image: stage.name, step: number, of: stage.steps.count, summary: summary,
                          cached: reason == nil, remote: reason == nil ? evaluation.remote?.description : nil, reason: reason,
                          key: evaluation.key, layer: layer, seconds: seconds, packages: packages)
    }
}
