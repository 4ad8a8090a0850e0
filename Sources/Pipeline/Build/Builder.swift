import Glibc
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

    public init(targets: [String], sourceDateEpoch: Int64?, compressionThreads: Int = GzipSink.defaultThreads) {
        self.targets = targets
        self.sourceDateEpoch = sourceDateEpoch
        self.compressionThreads = compressionThreads
    }
}

/// Builds images from a validated project into the store.
public final class Builder {
    let project: Project
    let store: ContentStore
    let reporter: BuildReporter

    public init(project: Project, store: ContentStore, reporter: BuildReporter) {
        self.project = project
        self.store = store
        self.reporter = reporter
    }

    /// Builds `options.targets` and everything upstream of them, parents first. Input
    /// problems that can be seen before building are reported before the store is touched.
    public func build(_ options: BuildOptions) throws -> [BuiltImage] {
        let order = try project.buildOrder(for: options.targets)
        try Self.checkSupported(order.map { project.stages[$0]! })

        // The lock first: two processes creating a fresh store must not race on its files.
        let lock = try store.lock(exclusive: true) { reporter.waitingForStore(store.lockPath) }
        defer { withExtendedLifetime(lock) {} }
        try store.create()
        try store.validateLayout()
        try store.removeTemporaryFiles()

        var built: [String: BuiltImage] = [:]
        var result: [BuiltImage] = []
        for name in order {
            let stage = project.stages[name]!
            let parent = project.parent(of: name).flatMap { built[$0] }
            let image = try buildImage(stage, parent: parent, options: options)
            built[name] = image
            result.append(image)
        }
        return result
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

    private func buildImage(_ stage: Stage, parent: BuiltImage?, options: BuildOptions) throws -> BuiltImage {
        reporter.imageStarted(stage)
        let platform = parent.map { Platform(architecture: $0.config.architecture, os: $0.config.os, variant: $0.config.variant) }
            ?? HostPlatform.current
        var layers = parent?.manifest.layers ?? []
        var diffIDs = parent?.config.rootfs.diffIDs ?? []
        var history = parent?.config.history ?? []
        let epoch = options.sourceDateEpoch
            ?? parent?.config.created.flatMap(Timestamp.parseRFC3339)
            ?? 0
        let created = Timestamp.rfc3339(epoch)

        var tree: ImageFilesystem?
        var newLayers: [LayerBlob] = []
        for step in stage.steps {
            reporter.stepStarted(stage, step)
            let started = ContinuousClock.now
            let blob: LayerBlob
            var output = StepOutput(entries: [], history: "")
            do {
                if tree == nil { tree = try store.filesystem(layers: layers, diffIDs: diffIDs) }
                let writer = try LayerWriter(store: store, threads: options.compressionThreads)
                switch step.action {
                case .copy(let copy):
                    let (uid, gid) = try resolveOwner(copy.owner, tree: tree!, layers: layers)
                    output = try CopyLayer(stage: stage, copy: copy, epoch: epoch, uid: uid, gid: gid)
                        .write(into: writer, below: tree!)
                case .remove(let paths):
                    output = try RemoveLayer(paths: paths, epoch: epoch).write(into: writer, below: tree!)
                case .run, .apt:
                    throw PipelineError.notSupportedYet(step.location, "a '\(step.action.kind)' step")
                }
                blob = try writer.commit()
                tree!.apply(layer: output.entries, index: layers.count)
            } catch let error as StepInputError {
                throw PipelineError.stepInput(image: stage.name, step: step.number, location: step.location, message: error.message)
            } catch let error as PipelineError {
                throw error
            } catch let error as LayersError {
                throw PipelineError.stepFailed(image: stage.name, step: step.number, location: step.location, cause: error)
            } catch {
                throw PipelineError.stepFailed(image: stage.name, step: step.number, location: step.location, cause: error)
            }
            layers.append(blob.descriptor)
            diffIDs.append(blob.diffID)
            history.append(History(created: created, createdBy: "bake: " + output.history))
            newLayers.append(blob)
            let elapsed = (ContinuousClock.now - started).components
            let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
            reporter.stepFinished(stage, step, layer: blob, seconds: seconds)
        }

        let config = ImageConfig(
            created: created, architecture: platform.architecture, os: platform.os, variant: platform.variant,
            config: ConfigMerge.apply(stage.config, to: parent?.config.config),
            rootfs: RootFS(diffIDs: diffIDs), history: history.isEmpty ? nil : history
        )
        let configDescriptor = try store.ingestJSON(config, mediaType: .imageConfig)
        var annotations: [String: String]?
        var parentImage: ParentImage?
        if let parent {
            parentImage = ParentImage(name: parent.name, digest: parent.manifestDescriptor.digest)
            annotations = [AnnotationKey.baseName: parent.name, AnnotationKey.baseDigest: parent.manifestDescriptor.digest.description]
        }
        let manifest = Manifest(config: configDescriptor, layers: layers, annotations: annotations)
        let manifestDescriptor = try store.ingestJSON(manifest, mediaType: .imageManifest)
        try store.setImage(stage.name, manifest: manifestDescriptor)

        let image = BuiltImage(
            name: stage.name, manifestDescriptor: manifestDescriptor, manifest: manifest, config: config,
            newLayers: newLayers, parent: parentImage
        )
        try BuildRecord.write(BuildRecord(
            image: stage.name, manifest: manifestDescriptor.digest, config: configDescriptor.digest,
            parent: parentImage, layers: layers.map(\.digest),
            steps: zip(stage.steps, newLayers).map { step, layer in
                .init(number: step.number, summary: step.action.summary, layer: layer.descriptor.digest,
                      diffID: layer.diffID, size: layer.descriptor.size)
            },
            sourceDateEpoch: options.sourceDateEpoch, finishedAt: Timestamp.rfc3339(Int64(time(nil)))
        ), store: store)
        reporter.imageFinished(image)
        return image
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
        var primaryGroup: UInt32
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
            primaryGroup = gid
            return (uid, primaryGroup)
        }
    }
}
