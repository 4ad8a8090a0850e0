import Foundation
import Layers
import OCI
import Provisioners

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
    /// Secret values by id (`--secret`); only their ids ever enter a key or a record.
    public var secrets: [String: [UInt8]]
    /// Revision, source and version written into every image.
    public var metadata: SourceMetadata
    /// `--locked`: fail when a result differs from bake.lock, and leave bake.lock as it is.
    public var locked: Bool
    /// How registries of `from: {image: ...}` bases are reached.
    public var registries: RegistryAccess

    public init(
        targets: [String], sourceDateEpoch: Int64?, compressionThreads: Int = GzipSink.defaultThreads,
        noCache: Bool = false, jobs: Int = 1, secrets: [String: [UInt8]] = [:], metadata: SourceMetadata = SourceMetadata(),
        locked: Bool = false, registries: RegistryAccess = RegistryAccess()
    ) {
        self.targets = targets
        self.sourceDateEpoch = sourceDateEpoch
        self.compressionThreads = compressionThreads
        self.noCache = noCache
        self.jobs = max(1, jobs)
        self.secrets = secrets
        self.metadata = metadata
        self.locked = locked
        self.registries = registries
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
    private let indexLock = Lock()

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
        try Self.checkSecrets(order.map { project.stages[$0]! }, given: options.secrets)
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

        let built = try schedule(order, jobs: options.jobs) { name, parent in
            try self.buildImage(self.project.stages[name]!, parent: parent, options: options, lock: lock?.images[name])
        }
        let images = try order.map { name in
            guard let image = built[name] else {
                throw PipelineError.failed("bake did not build \(name) and does not know why; please report this")
            }
            return image
        }
        if !options.locked {
            var updated = lock ?? LockFile()
            for image in images { updated.images[image.name] = try LockFile.Image(image, options: options) }
            updated.keepOnly(Set(project.names))
            try updated.save(directory: project.directory)
        }
        return images
    }

    /// A step that lists a secret not given stops the build before anything is built.
    public static func checkSecrets(_ stages: [Stage], given: [String: [UInt8]]) throws {
        for stage in stages {
            for step in stage.steps {
                guard case .run(let run) = step.action else { continue }
                for id in run.secrets where given[id] == nil {
                    throw PipelineError.stepInput(
                        image: stage.name, step: step.number, location: step.location,
                        message: "secret '\(id)' is not given; pass --secret id=\(id),env=VARIABLE or --secret id=\(id),src=FILE")
                }
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
            var doneBefore = 0
            let launch: [(String, BuiltImage?)] = state.lock.withLock {
                doneBefore = state.done.count
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
                // Whatever was launched, or was running, has already finished: look for what
                // is ready now. Nothing launched, nothing finished since and nothing running
                // would mean an image can never start.
                guard !launch.isEmpty || done != doneBefore else {
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
        let lock = Lock()
        var done: [String: BuiltImage] = [:]
        var running: Set<String> = []
        var failure: (any Error)?
    }

    // MARK: - One image

    private func buildImage(_ stage: Stage, parent: BuiltImage?, options: BuildOptions, lock: LockFile.Image?) throws -> BuiltImage {
        let started = ContinuousClock.now
        reporter.report(.imageStarted(image: stage.name, file: stage.file, base: stage.base.description, steps: stage.steps.count))
        let previous = BuildRecord.latest(stage.name, store: store)
        var results: [StepResult] = []
        let base: ImageBase
        var upstream: [String: String] = [:]
        if let parent {
            base = try .image(parent.assembled, sourceDateEpoch: options.sourceDateEpoch)
        } else {
            let baseStarted = ContinuousClock.now
            let resolved: (ImageBase, BaseLayer?, [String: String])?
            do {
                resolved = try ExternalBases(store: store, evaluator: evaluator, reporter: reporter, access: options.registries).resolve(
                    stage, sourceDateEpoch: options.sourceDateEpoch, noCache: options.noCache, build: true,
                    threads: options.compressionThreads, pins: lock?.upstream)
            } catch let error as LayersError {
                throw PipelineError.failed("\(stage.baseLocation): the base of \(stage.name) could not be made: \(error)")
            }
            guard let resolved else { throw PipelineError.failed("the base of \(stage.name) could not be resolved") }
            base = resolved.0
            upstream = resolved.2
            if let layer = resolved.1 {
                // The base's layer shows as step 0.
                let result = StepResult(
                    image: stage.name, step: 0, of: stage.steps.count, summary: "from \(stage.base)", cached: layer.cached,
                    reason: layer.reason, key: layer.key, layer: layer.layer, seconds: Self.seconds(since: baseStarted))
                results.append(result)
                reporter.report(.stepFinished(result))
            }
        }

        var state = base.state
        var layers: [LayerBlob] = []
        var histories: [String] = []
        var tree: ImageFilesystem?
        for step in stage.steps {
            let stepStarted = ContinuousClock.now
            let evaluation = try evaluator.evaluate(step, of: stage, state: state, epoch: base.epoch, remember: true)
            var layer: LayerBlob
            var history: String
            var reason: String?
            var packages: [String]?
            if !options.noCache, let hit = evaluation.hit {
                layer = hit.layer
                history = hit.history
                packages = hit.packages
                // The tree no longer matches; it is rebuilt from the layers if a later step needs it.
                tree = nil
            } else {
                let why = MissReason.explain(evaluation, step: step, previous: previous, base: base.parent,
                                             noCache: options.noCache, hasher: evaluator.hasher)
                reason = why.summary
                reporter.report(.stepStarted(image: stage.name, step: step.number, of: stage.steps.count,
                                             summary: step.action.summary, reason: why.summary))
                (layer, history, tree, packages) = try runStep(step, of: stage, base: base, layers: layers, tree: tree, options: options)
                do {
                    try evaluator.cache.record(key: evaluation.key.digest, layer: layer, history: history, packages: packages)
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
                seconds: Self.seconds(since: stepStarted), packages: packages
            )
            results.append(result)
            reporter.report(.stepFinished(result))
        }

        let assembled = try AssembledImage.assemble(stage, base: base, layers: layers, histories: histories, metadata: options.metadata)
        if options.locked {
            // A result that differs from bake.lock is not named.
            let differences = try LockCheck.differences(
                assembled, steps: results, locked: lock, metadata: options.metadata, store: store)
            if !differences.isEmpty { throw PipelineError.lockMismatch(image: stage.name, differences: differences) }
        }
        try store.ensure(assembled.configBytes)
        try store.ensure(assembled.manifestBytes)
        let checksDigest = try Self.checksDigest(stage)
        let named = try store.image(named: stage.name)?.digest
        if let checksDigest, options.noCache || named != assembled.manifestDescriptor.digest || previous?.checks != checksDigest {
            // A failing check throws here: the image is not named.
            try runChecks(stage, image: assembled, epoch: base.epoch)
        }
        var image = BuiltImage(name: stage.name, assembled: assembled, steps: results, parent: base.parent,
                               seconds: Self.seconds(since: started), upstream: upstream)
        try indexLock.withLock {
            if try store.image(named: stage.name)?.digest != assembled.manifestDescriptor.digest {
                try store.setImage(stage.name, manifest: assembled.manifestDescriptor)
            }
            // A build that changed nothing leaves no record (and writes nothing at all).
            if results.contains(where: { !$0.cached }) || previous?.manifest != assembled.manifestDescriptor.digest
                || previous?.checks != checksDigest || previous?.sourceDateEpoch != options.sourceDateEpoch {
                _ = try BuildRecord.write(BuildRecord(
                    image: stage.name, sequence: 0, manifest: assembled.manifestDescriptor.digest,
                    config: assembled.manifest.config.digest, parent: base.parent, baseState: base.state,
                    layers: assembled.manifest.layers.map(\.digest),
                    steps: results.map {
                        .init(number: $0.step, summary: $0.summary, key: $0.key,
                              layer: $0.layer.descriptor.digest, diffID: $0.layer.diffID, size: $0.layer.descriptor.size,
                              cached: $0.cached, seconds: $0.seconds, packages: $0.packages)
                    },
                    sourceDateEpoch: options.sourceDateEpoch, checks: checksDigest, upstream: upstream.isEmpty ? nil : upstream,
                    metadata: options.metadata, finishedAt: Timestamp.rfc3339(Int64(time(nil)))
                ), store: store)
            }
        }
        image.seconds = Self.seconds(since: started)
        reporter.report(.imageFinished(image))
        return image
    }

    /// Runs a step that is not cached: writes its layer and returns it with its history
    /// text, the image tree after it, and (apt) the packages it installed.
    private func runStep(
        _ step: Step, of stage: Stage, base: ImageBase, layers: [LayerBlob], tree: ImageFilesystem?, options: BuildOptions
    ) throws -> (LayerBlob, String, ImageFilesystem, [String]?) {
        let allLayers = base.layers + layers.map(\.descriptor)
        let allDiffIDs = base.diffIDs + layers.map(\.diffID)
        do {
            let tree = try tree ?? store.filesystem(layers: allLayers, diffIDs: allDiffIDs)
            let writer = try LayerWriter(store: store, threads: options.compressionThreads)
            let output: StepOutput
            var packages: [String]?
            switch step.action {
            case .copy(let copy):
                let (uid, gid) = try resolveOwner(copy.owner, tree: tree, layers: allLayers)
                output = try CopyLayer(stage: stage, copy: copy, epoch: base.epoch, uid: uid, gid: gid).write(into: writer, below: tree)
            case .remove(let paths):
                output = try RemoveLayer(paths: paths, epoch: base.epoch).write(into: writer, below: tree)
            case .run(let run):
                let (user, home) = try RunStepExecutor.user(run.user, tree: tree, layers: allLayers, store: store)
                let environment = RunStepExecutor.environment(image: base.config?.env ?? [], home: home, epoch: base.epoch)
                output = try runCommand(
                    script: run.script, step: step, stage: stage, base: base, layers: allLayers, diffIDs: allDiffIDs, tree: tree,
                    user: user, home: home, environment: environment, network: run.network, secrets: run.secrets, options: options,
                    writer: writer, history: "run " + run.script.trimmingCharacters(in: .whitespacesAndNewlines))
            case .apt(let names):
                let marker = "@@bake-installed-packages@@"
                let versions = MarkedLines(after: marker)
                let environment = RunStepExecutor.environment(
                    image: base.config?.env ?? [], home: "/root", epoch: base.epoch, extra: ["DEBIAN_FRONTEND=noninteractive"])
                output = try runCommand(
                    script: Self.aptScript(names, marker: marker), step: step, stage: stage, base: base, layers: allLayers,
                    diffIDs: allDiffIDs, tree: tree, user: .root, home: "/root", environment: environment, network: true,
                    secrets: [], options: options, writer: writer, history: "apt " + names.joined(separator: " "), observe: versions.add)
                packages = versions.lines
            }
            let blob = try writer.commit()
            tree.apply(layer: output.entries, index: allLayers.count)
            return (blob, output.history, tree, packages)
        } catch let error as StepInputError {
            throw PipelineError.stepInput(image: stage.name, step: step.number, location: step.location, message: error.message)
        } catch let error as PipelineError {
            throw error
        } catch let error as ProvisionersError {
            if case .interrupted = error { throw error }
            throw PipelineError.stepFailed(image: stage.name, step: step.number, location: step.location, cause: error)
        } catch {
            throw PipelineError.stepFailed(image: stage.name, step: step.number, location: step.location, cause: error)
        }
    }

    /// Runs a step's script in a sandbox on the image below and captures what it changed.
    private func runCommand(
        script: String, step: Step, stage: Stage, base: ImageBase, layers: [Descriptor], diffIDs: [Digest],
        tree: ImageFilesystem, user: UserIdentity, home: String, environment: [String], network: Bool, secrets: [String],
        options: BuildOptions, writer: LayerWriter, history: String, observe: (@Sendable (String) -> Void)? = nil
    ) throws -> StepOutput {
        let executor = RunStepExecutor(store: store, reporter: reporter, secrets: options.secrets)
        let outcome = try executor.run(
            script: script, label: "step \(step.number)", image: stage.name, layers: layers, diffIDs: diffIDs, tree: tree,
            user: user, home: home, workdir: "/", environment: environment, network: network, secretIDs: secrets, observe: observe)
        defer { outcome.machine.discard() }
        guard outcome.status == 0 else {
            throw PipelineError.commandFailed(image: stage.name, what: "step \(step.number)", location: step.location,
                                              status: outcome.status, output: outcome.tail)
        }
        RunStepExecutor.removeMountPoints(upper: outcome.machine.upper, below: tree)
        try Normaliser.apply(toUpper: outcome.machine.upper, epoch: base.epoch, below: { tree.entry(at: $0) != nil })
        let unpacked = outcome.unpacked
        let capture = OverlayCapture(
            upper: outcome.machine.upper, lower: tree,
            lowerFile: { path in tree.layerIndex(at: path).flatMap { $0 >= 0 && $0 < unpacked.count ? unpacked[$0] + "/" + path.description : nil } },
            epoch: base.epoch)
        return StepOutput(entries: try capture.write(into: writer.tar), history: history)
    }

    /// An apt step: install with --no-install-recommends, report what was installed, clean up.
    static func aptScript(_ packages: [String], marker: String) -> String {
        let names = packages.map { $0.split(separator: "=").first.map(String.init) ?? $0 }
        return """
            apt-get update -q
            apt-get install -y -q --no-install-recommends -o Dpkg::Use-Pty=0 \(packages.joined(separator: " "))
            echo \(marker)
            dpkg-query -W -f '${Package}=${Version}\\n' \(names.joined(separator: " "))
            apt-get clean
            rm -rf /var/lib/apt/lists/*
            """
    }

    /// The digest of a stage's checks (nil when it has none): checks are run again when
    /// the image or its checks change.
    static func checksDigest(_ stage: Stage) throws -> Digest? {
        guard !stage.checks.isEmpty else { return nil }
        let text = stage.checks.map { "\($0.user ?? "")\u{0}\($0.script)" }.joined(separator: "\u{1}")
        return Digest.sha256(Array(text.utf8))
    }

    /// Runs every check in the finished image, changes discarded; the first failure throws.
    private func runChecks(_ stage: Stage, image: AssembledImage, epoch: Int64) throws {
        let layers = image.manifest.layers
        let diffIDs = image.config.rootfs.diffIDs
        let tree = try store.filesystem(layers: layers, diffIDs: diffIDs)
        let executor = RunStepExecutor(store: store, reporter: reporter, secrets: [:])
        for (index, check) in stage.checks.enumerated() {
            reporter.report(.checkStarted(image: stage.name, check: index + 1, of: stage.checks.count,
                                          summary: check.script.split(separator: "\n").first.map(String.init) ?? ""))
            do {
                let (user, home) = try RunStepExecutor.user(check.user ?? image.config.config?.user, tree: tree, layers: layers, store: store)
                let environment = RunStepExecutor.environment(image: image.config.config?.env ?? [], home: home, epoch: epoch)
                let outcome = try executor.run(
                    script: check.script, label: "check \(index + 1)", image: stage.name, layers: layers, diffIDs: diffIDs,
                    tree: tree, user: user, home: home, workdir: image.config.config?.workingDir ?? "/", environment: environment,
                    network: false, secretIDs: [])
                outcome.machine.discard()
                guard outcome.status == 0 else {
                    throw PipelineError.commandFailed(image: stage.name, what: "check \(index + 1)", location: check.location,
                                                      status: outcome.status, output: outcome.tail)
                }
            } catch let error as StepInputError {
                throw PipelineError.badInput("\(check.location): check \(index + 1) of \(stage.name): \(error.message)")
            } catch let error as ProvisionersError {
                if case .interrupted = error { throw error }
                throw PipelineError.failed("\(check.location): check \(index + 1) of \(stage.name) could not run: \(error)")
            }
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
