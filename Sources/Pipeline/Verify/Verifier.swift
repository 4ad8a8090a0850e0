import CSandbox
import Glibc
import Layers
import OCI
import Provisioners

/// What `bake verify` is asked to do.
public struct VerifyOptions: Sendable {
    /// Images to verify (with everything upstream); empty means every image.
    public var targets: [String]
    /// The bake executable to run the verification build with.
    public var executable: String
    /// `--secret` arguments, passed on to the verification build as given.
    public var secretArguments: [String]
    /// The progress mode of the verification build (`plain` or `auto`).
    public var progress: String
    /// Keep the verification store and project copy (their path is in the report).
    public var keep: Bool
    /// Run diffoscope on the differing files.
    public var diffoscope: Bool
    /// bake's environment.
    public var environment: [String: String]
    /// `--insecure-registry` hosts, passed on to the verification build.
    public var insecureRegistries: [String] = []

    public init(targets: [String], executable: String, secretArguments: [String], progress: String, keep: Bool,
                diffoscope: Bool, environment: [String: String]) {
        self.targets = targets
        self.executable = executable
        self.secretArguments = secretArguments
        self.progress = progress
        self.keep = keep
        self.diffoscope = diffoscope
        self.environment = environment
    }
}

/// The outcome of `bake verify`.
public struct VerifyReport: Sendable, Encodable {
    /// One image: what it was and what the verification build made.
    public struct ImageResult: Sendable, Encodable {
        public var name: String
        /// Where the expected digest comes from: `build #N` or `bake.lock`.
        public var reference: String
        public var expected: Digest
        public var rebuilt: Digest
        public var reproducible: Bool
    }

    /// A layer on one side.
    public struct LayerSide: Sendable, Encodable {
        public var digest: Digest
        public var diffID: Digest
    }

    /// The first difference, down to the file.
    public struct Difference: Sendable, Encodable {
        public var image: String
        /// The step whose layer differs (0: the base's layer; nil: not a layer).
        public var step: Int?
        public var stepSummary: String?
        /// 1-based position of the layer in the image.
        public var layer: Int?
        public var expected: LayerSide?
        public var rebuilt: LayerSide?
        /// Paths that differ (at most 200) and how many differ in all.
        public var files: [FileDifference]
        public var filesTotal: Int
        /// Why files could not be compared, when they could not.
        public var filesUnavailable: String?
        /// Config differences as JSON paths.
        public var config: [String]
        /// Manifest differences as JSON paths.
        public var manifest: [String]
        /// diffoscope's output per path, with --diffoscope.
        public var diffoscope: [String: String]?
    }

    public var reproducible: Bool
    public var images: [ImageResult]
    public var difference: Difference?
    /// How the verification build's environment differed from the original.
    public var environment: [String: String]
    /// The kept folder (with --keep).
    public var kept: String?
}

/// `bake verify`: rebuilds images and everything they are built on from nothing, in a new
/// store and a changed environment, and compares every level with the last build (or
/// bake.lock).
public struct Verifier {
    let workspace: Workspace
    let project: Project
    let options: VerifyOptions

    public init(workspace: Workspace, project: Project, options: VerifyOptions) {
        self.workspace = workspace
        self.project = project
        self.options = options
    }

    /// What an image is expected to be.
    struct Expected {
        var name: String
        var reference: String
        var manifest: Digest
        /// The manifest, config and layer blobs, when the store has them.
        var manifestBytes: [UInt8]?
        var configBytes: [UInt8]?
        var layers: [LockFile.Layer]
        var record: BuildRecord?
        var sourceDateEpoch: Int64?
        var metadata: SourceMetadata
        var upstream: [String: String]?
    }

    /// The hostname, locale and time zone of the verification build: all unlike a usual host.
    static let hostname = "bake-verify-elsewhere"
    static let locale = "tr_TR.UTF-8"
    static let timeZone = "Pacific/Kiritimati"

    /// Runs the verification; `announce` receives a line about the changed environment
    /// before the rebuild starts.
    public func run(announce: (String) -> Void) throws -> VerifyReport {
        let order = try project.buildOrder(for: options.targets)
        if options.diffoscope && HostTool.path("diffoscope") == nil {
            throw ProvisionersError.missingTool(tool: "diffoscope (needed for --diffoscope)", package: "diffoscope-minimal")
        }
        let expected = try expectations(order)
        let epochs = Set(expected.map { $0.sourceDateEpoch.map(String.init) ?? "unset" })
        guard epochs.count == 1 else {
            throw PipelineError.badInput(
                "\(order.joined(separator: ", ")) were built with different SOURCE_DATE_EPOCH values (\(epochs.sorted().joined(separator: ", "))); build them together ('bake build \(order.last!)') and verify again")
        }
        let metadata = expected.last!.metadata

        // The verification folder: another path, deeper, with another name.
        let base = options.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/var/tmp"
        let folder = try FileSystem.makeTemporaryDirectory(in: base, prefix: "bake-verify", mode: 0o755)
        defer { if !options.keep { try? FileSystem.removeTree(folder) } }
        let copy = folder + "/elsewhere/another-project"
        let store = folder + "/store"
        try FileSystem.createDirectory(folder + "/elsewhere")
        try FileSystem.createDirectory(folder + "/tmp", mode: 0o1777)
        _ = chmod(folder + "/tmp", 0o1777)
        try FileSystem.createDirectory(copy)
        try ContextCopy.copy(project.directory + "/images", to: copy + "/images")
        try copyExternalBases(order, to: copy)
        // Only the pins the expected builds used: the verification build must ask upstream
        // for exactly the same release.
        var pins = LockFile()
        for image in expected { if let upstream = image.upstream { var entry = LockFile.Image(); entry.upstream = upstream; pins.images[image.name] = entry } }
        try pins.save(directory: copy)

        let originalMask = umask(0o022)
        umask(originalMask)
        let mask: mode_t = originalMask == 0o022 ? 0o077 : 0o022
        let cores = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        let threads = cores == 1 ? 3 : 1
        let jobs = cores == 1 ? 2 : 1
        var environment = options.environment
        environment["TZ"] = Self.timeZone
        environment["LC_ALL"] = Self.locale
        environment["LANG"] = Self.locale
        environment["TMPDIR"] = folder + "/tmp"
        environment["SOURCE_DATE_EPOCH"] = expected.last!.sourceDateEpoch.map(String.init)
        for (key, value) in metadata.environment { environment[key] = value }
        let octal = String(mask, radix: 8)
        let umaskText = String(repeating: "0", count: max(0, 4 - octal.count)) + octal
        let changed: [String: String] = [
            "project": copy, "store": store, "TZ": Self.timeZone, "LC_ALL": Self.locale, "hostname": Self.hostname,
            "host files": "/etc/hostname and /etc/resolv.conf with other bytes",
            "umask": umaskText, "threads": String(threads), "jobs": String(jobs),
            "mtimes": "from 2001-09-09, 61 s apart", "order": "context files created in reverse order",
        ]
        announce("verify: rebuilding \(order.joined(separator: ", ")) from nothing in \(copy) (store \(store)) with TZ=\(Self.timeZone), LC_ALL=\(Self.locale), hostname \(Self.hostname) (also in /etc/hostname), another /etc/resolv.conf, umask \(changed["umask"]!), --threads \(threads), --jobs \(jobs), other file times and creation order")

        var arguments = [options.executable, "--progress", options.progress, "-C", copy, "--store", store, "build", "--no-cache",
                         "--jobs", String(jobs), "--threads", String(threads)]
        for secret in options.secretArguments { arguments += ["--secret", secret] }
        for host in options.insecureRegistries { arguments += ["--insecure-registry", host] }
        arguments += order
        var binds: [(source: String, target: String)] = []
        try FileSystem.createDirectory(folder + "/host")
        for (index, replacement) in Self.hostFileReplacements().enumerated() {
            let source = folder + "/host/\(index)-" + (replacement.target.split(separator: "/").last.map(String.init) ?? "file")
            let file = try OpenFile(path: source, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
            try replacement.contents.withUnsafeBytes { try file.writeAll($0) }
            try file.close()
            binds.append((source, replacement.target))
        }
        let status = try Self.spawn(arguments, environment: environment, mask: mask, binds: binds)
        guard status == 0 else {
            if Interrupts.happened { throw ProvisionersError.interrupted }
            throw PipelineError.failed("the verification build failed (exit status \(status), its messages are above), so nothing could be compared")
        }

        let rebuiltStore = ContentStore(root: store)
        var report = VerifyReport(reproducible: true, images: [], difference: nil, environment: changed,
                                  kept: options.keep ? folder : nil)
        let lock = try workspace.store.exists ? workspace.readLock() : nil
        defer { withExtendedLifetime(lock) {} }
        for image in expected {
            guard let rebuilt = try rebuiltStore.image(named: image.name) else {
                throw PipelineError.failed("the verification build did not make \(image.name)")
            }
            let same = rebuilt.digest == image.manifest
            report.images.append(.init(name: image.name, reference: image.reference, expected: image.manifest,
                                       rebuilt: rebuilt.digest, reproducible: same))
            if !same {
                report.reproducible = false
                if report.difference == nil {
                    report.difference = try explain(image, rebuilt: rebuilt, in: rebuiltStore, folder: folder)
                }
            }
        }
        return report
    }

    /// What each image of `order` is expected to be: the image the store names (its last
    /// build), or else its result in bake.lock.
    func expectations(_ order: [String]) throws -> [Expected] {
        let store = workspace.store
        let lockFile = try LockFile.load(directory: project.directory)
        let storeLock = store.exists ? try workspace.readLock() : nil
        defer { withExtendedLifetime(storeLock) {} }
        var result: [Expected] = []
        for name in order {
            if store.exists, let named = try store.image(named: name) {
                let manifestBytes = try store.readBlob(named.digest, what: "manifest")
                let manifest = try CanonicalJSON.decode(Manifest.self, from: manifestBytes, kind: "manifest \(named.digest)")
                let configBytes = try store.readBlob(manifest.config.digest, what: "config")
                let config = try CanonicalJSON.decode(ImageConfig.self, from: configBytes, kind: "config \(manifest.config.digest)")
                let record = BuildRecord.all(name, store: store).last { $0.manifest == named.digest }
                let pinned = lockFile?.images[name]?.upstream
                if let recorded = record?.upstream, let pinned, recorded[Upstreams.identity] != pinned[Upstreams.identity] {
                    throw PipelineError.badInput(
                        "bake.lock pins another upstream for \(name) than its last build used ('bake update' moved it); run 'bake build \(name)' first, then verify")
                }
                result.append(Expected(
                    name: name, reference: record.map { "build #\($0.sequence)" } ?? "the store", manifest: named.digest,
                    manifestBytes: manifestBytes, configBytes: configBytes,
                    layers: zip(manifest.layers, config.rootfs.diffIDs).map { LockFile.Layer(digest: $0.digest, diffID: $1) },
                    record: record, sourceDateEpoch: record?.sourceDateEpoch,
                    metadata: record?.metadata ?? SourceMetadata(), upstream: record?.upstream ?? pinned))
            } else if let locked = lockFile?.images[name], let manifest = locked.manifest, let layers = locked.layers {
                result.append(Expected(
                    name: name, reference: "bake.lock", manifest: manifest,
                    manifestBytes: try? store.readBlob(manifest, what: "manifest"),
                    configBytes: locked.config.flatMap { try? store.readBlob($0, what: "config") },
                    layers: layers, record: nil, sourceDateEpoch: locked.sourceDateEpoch,
                    metadata: locked.metadata ?? SourceMetadata(), upstream: locked.upstream))
            } else {
                throw PipelineError.badInput(
                    "\(name) has not been built in \(store.root) and bake.lock has no result for it, so there is nothing to compare with; run 'bake build \(order.last!)' first")
            }
        }
        return result
    }

    /// Bases read from files outside `images/` (a rootfs tarball, an OCI layout) are copied
    /// to the same place relative to the project copy.
    func copyExternalBases(_ order: [String], to copy: String) throws {
        for name in order {
            let stage = project.stages[name]!
            let path: String
            switch stage.base {
            case .ociLayout(let layout, _): path = layout
            case .rootfs(let file): path = file
            default: continue
            }
            guard !path.hasPrefix("/") else { continue }
            let host = Workspace.absolute(ExternalBases.hostPath(path, stage: stage), relativeTo: "/")
            let imagesFolder = project.directory + "/images/"
            if host.hasPrefix(imagesFolder) { continue }
            guard host.hasPrefix(project.directory + "/") else {
                throw PipelineError.badInput(
                    "\(stage.baseLocation): verify copies the project elsewhere, and the base path '\(path)' leads out of the project; give it as an absolute path")
            }
            let relative = String(host.dropFirst(project.directory.count + 1))
            let destination = copy + "/" + relative
            try FileSystem.createDirectory(FileSystem.parent(of: destination))
            try ContextCopy.copy(host, to: destination)
        }
    }

    /// The first difference of an image, down to the file.
    func explain(_ image: Expected, rebuilt: Descriptor, in rebuiltStore: ContentStore, folder: String) throws -> VerifyReport.Difference {
        let manifestBytes = try rebuiltStore.readBlob(rebuilt.digest, what: "manifest")
        let manifest = try CanonicalJSON.decode(Manifest.self, from: manifestBytes, kind: "manifest \(rebuilt.digest)")
        let configBytes = try rebuiltStore.readBlob(manifest.config.digest, what: "config")
        let config = try CanonicalJSON.decode(ImageConfig.self, from: configBytes, kind: "config \(manifest.config.digest)")
        let layers = Array(zip(manifest.layers, config.rootfs.diffIDs))
        var difference = VerifyReport.Difference(
            image: image.name, files: [], filesTotal: 0,
            config: image.configBytes.map { (try? JSONDifference.compare($0, configBytes, what: "image config")) ?? [] } ?? [],
            manifest: image.manifestBytes.map { (try? JSONDifference.compare($0, manifestBytes, what: "image manifest")) ?? [] } ?? [])
        if image.configBytes == nil { difference.filesUnavailable = "the store has no blobs of the expected image (bake.lock names them), so only digests can be compared; run 'bake build' and verify again" }
        let count = max(layers.count, image.layers.count)
        guard let index = (0..<count).first(where: { index in
            index >= layers.count || index >= image.layers.count
                || layers[index].0.digest != image.layers[index].digest || layers[index].1 != image.layers[index].diffID
        }) else {
            return difference
        }
        difference.layer = index + 1
        if index < image.layers.count { difference.expected = .init(digest: image.layers[index].digest, diffID: image.layers[index].diffID) }
        if index < layers.count { difference.rebuilt = .init(digest: layers[index].0.digest, diffID: layers[index].1) }
        // Which step made the layer: the verification build's record knows.
        if let record = BuildRecord.latest(image.name, store: rebuiltStore) {
            let own = index - (layers.count - record.steps.count)
            if own >= 0 && own < record.steps.count {
                difference.step = record.steps[own].number
                difference.stepSummary = record.steps[own].summary
            }
        }
        guard let expected = difference.expected, let now = difference.rebuilt else { return difference }
        guard workspace.store.hasBlob(expected.digest) else {
            difference.filesUnavailable = "the expected layer \(expected.digest) is not in the store \(workspace.store.root), so its files cannot be compared"
            return difference
        }
        let expectedManifest = image.manifestBytes.flatMap { try? CanonicalJSON.decode(Manifest.self, from: $0, kind: "manifest") }
        let expectedLayer = try expectedManifest.map { $0.layers[index] }
            ?? Descriptor(mediaType: .layerTarGzip, digest: expected.digest, size: workspace.store.blobSize(expected.digest))
        let (files, total) = try LayerDifference.compare(
            (store: workspace.store, layer: expectedLayer, diffID: expected.diffID),
            (store: rebuiltStore, layer: layers[index].0, diffID: now.diffID))
        difference.files = KnownCause.annotate(files)
        difference.filesTotal = total
        if options.diffoscope {
            difference.diffoscope = try runDiffoscope(difference.files, expected: expectedLayer, expectedDiffID: expected.diffID,
                                                      rebuilt: layers[index].0, rebuiltDiffID: now.diffID, in: rebuiltStore, folder: folder)
        }
        return difference
    }

    /// diffoscope on each changed regular file (at most 5), both versions extracted.
    func runDiffoscope(
        _ files: [FileDifference], expected: Descriptor, expectedDiffID: Digest, rebuilt: Descriptor, rebuiltDiffID: Digest,
        in rebuiltStore: ContentStore, folder: String
    ) throws -> [String: String] {
        guard let diffoscope = HostTool.path("diffoscope") else { return [:] }
        var outputs: [String: String] = [:]
        for (number, file) in files.filter({ $0.change == .changed }).prefix(5).enumerated() {
            let name = file.path.split(separator: "/").last.map(String.init) ?? "file"
            let work = folder + "/diffoscope/\(number)"
            try FileSystem.createDirectory(work + "/built")
            try FileSystem.createDirectory(work + "/rebuilt")
            let before = work + "/built/" + name
            let after = work + "/rebuilt/" + name
            guard try LayerDifference.extractFile(file.path, from: workspace.store, layer: expected, diffID: expectedDiffID, to: before),
                  try LayerDifference.extractFile(file.path, from: rebuiltStore, layer: rebuilt, diffID: rebuiltDiffID, to: after) else { continue }
            let (_, output) = try HostTool.run([diffoscope, "--no-progress", "--text", "-", before, after])
            outputs[file.path] = String(decoding: output, as: UTF8.self)
        }
        return outputs
    }

    /// The host's files that the verification build sees with other bytes, and what it
    /// sees: tools that run on the host (mmdebstrap) may copy them into an image. The
    /// replacement resolv.conf names the same name servers, so the network still works.
    static func hostFileReplacements() -> [(target: String, contents: [UInt8])] {
        var replacements: [(target: String, contents: [UInt8])] = [("/etc/hostname", Array((hostname + "\n").utf8))]
        if var resolv = try? FileSystem.readFile("/etc/resolv.conf", limit: 1 << 20) {
            if let last = resolv.last, last != 0x0a { resolv.append(0x0a) }
            resolv += Array("# bake verify: the host's name servers, in another file\n".utf8)
            replacements.append(("/etc/resolv.conf", resolv))
        }
        return replacements
    }

    /// Runs the verification build in new UTS and mount namespaces with `mask`, each
    /// existing `binds` target showing its source file; its stdout is discarded (the result
    /// is read from its store), its stderr is bake's.
    static func spawn(_ arguments: [String], environment: [String: String], mask: mode_t,
                      binds: [(source: String, target: String)] = []) throws -> Int32 {
        let devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer { if devnull >= 0 { close(devnull) } }
        // Ctrl-C reaches the verification build from the terminal too; bake passes it on as
        // SIGTERM (a second one kills), waits, and then removes the verification folder.
        Interrupts.installForRun()
        let sources = binds.map { strdup($0.source) }
        let targets = binds.map { strdup($0.target) }
        defer { (sources + targets).forEach { free($0) } }
        let sourcePointers = sources.map { UnsafePointer($0) }
        let targetPointers = targets.map { UnsafePointer($0) }
        let pid: pid_t = CStrings.with(arguments) { argv in
            CStrings.with(environment.map { "\($0.key)=\($0.value)" }.sorted()) { envp in
                sourcePointers.withUnsafeBufferPointer { sourceBuffer in
                    targetPointers.withUnsafeBufferPointer { targetBuffer in
                        bake_spawn_changed(arguments[0], argv, envp, hostname, UInt32(mask), devnull,
                                           sourceBuffer.baseAddress, targetBuffer.baseAddress, Int32(binds.count))
                    }
                }
            }
        }
        guard pid > 0 else { throw LayersError.system(operation: "start", path: arguments[0], errno: errno) }
        bake_sandbox_track(pid)
        var status: Int32 = 0
        guard bake_sandbox_wait(pid, &status) == 0 else {
            throw LayersError.system(operation: "wait for", path: arguments[0], errno: errno)
        }
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }
}
