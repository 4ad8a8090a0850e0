import CSandbox
import Glibc
import Layers
import OCI
import Provisioners

/// The first layer of an image built on something outside the pipeline, and what it needs
/// to describe it: shared by `debian` and `rootfs` bases, which bake turns into one layer.
struct BaseLayer {
    let key: CacheKey
    let layer: LayerBlob
    let history: String
    let cached: Bool
    let reason: String?
}

/// Resolves bases that are not another image of the pipeline.
struct ExternalBases {
    let store: ContentStore
    let evaluator: StepEvaluator
    let reporter: BuildReporter
    /// How registries are reached, for `from: {image: ...}`.
    var access = RegistryAccess()

    /// The base of `stage`, building its first layer if it must and `build` allows; nil
    /// when it is not built and `build` is false (a plan).
    /// `pins` are the image's external pins from bake.lock, used instead of asking upstream.
    func resolve(
        _ stage: Stage, sourceDateEpoch: Int64?, noCache: Bool, build: Bool, threads: Int, pins: [String: String]?
    ) throws -> (ImageBase, BaseLayer?, [String: String])? {
        switch stage.base {
        case .scratch:
            return (.scratch(epoch: sourceDateEpoch), nil, [:])
        case .stage:
            preconditionFailure("bases of the pipeline are resolved by the builder")
        case .registry(let reference):
            return try RegistryBaseImporter(store: store, access: access)
                .resolve(reference, stage: stage, sourceDateEpoch: sourceDateEpoch, build: build, pins: pins)
        case .debian(let debian):
            return try DebianBaseBuilder(store: store, evaluator: evaluator, reporter: reporter)
                .resolve(debian, stage: stage, sourceDateEpoch: sourceDateEpoch, noCache: noCache, build: build, threads: threads,
                         pins: pins)
        case .ociLayout(let path, let ref):
            return try OCILayoutImporter(store: store).resolve(path: path, ref: ref, stage: stage, sourceDateEpoch: sourceDateEpoch, importBlobs: build)
        case .rootfs(let path):
            return try RootfsImporter(store: store, evaluator: evaluator, reporter: reporter)
                .resolve(path: path, stage: stage, sourceDateEpoch: sourceDateEpoch, noCache: noCache, build: build, threads: threads)
        }
    }

    /// An image base made of one layer bake built (debian, rootfs).
    static func oneLayer(_ base: BaseLayer, epoch: Int64, environment: [String]?) -> ImageBase {
        var config: ContainerConfig?
        if let environment {
            var container = ContainerConfig()
            container.env = environment
            config = container
        }
        return ImageBase(
            state: CacheKey.state(after: CacheKey.scratch, layer: base.layer.diffID),
            layers: [base.layer.descriptor], diffIDs: [base.layer.diffID],
            history: [History(created: Timestamp.rfc3339(epoch), createdBy: "bake: " + base.history)],
            config: config, platform: HostPlatform.current, epoch: epoch, parent: nil)
    }

    /// A folder of the store's temporary area for a base being made.
    static func workFolder(_ store: ContentStore, _ prefix: String) throws -> String {
        try FileSystem.createDirectory(store.temporaryPath)
        return try FileSystem.makeTemporaryDirectory(in: store.temporaryPath, prefix: prefix)
    }

    /// Writes a folder (a root file system) as one deterministic layer: canonical order,
    /// numeric owners, mtimes clamped to `epoch`.
    static func captureFolder(_ root: String, store: ContentStore, epoch: Int64, threads: Int) throws -> LayerBlob {
        let writer = try LayerWriter(store: store, threads: threads)
        _ = try OverlayCapture(upper: root, lower: ImageFilesystem(), lowerFile: { _ in nil }, epoch: epoch).write(into: writer.tar)
        return try writer.commit()
    }

    /// A path of a base as the stage file gives it: absolute, or relative to the image folder.
    static func hostPath(_ path: String, stage: Stage) -> String {
        path.hasPrefix("/") ? path : stage.directory + "/" + path
    }
}

/// Runs a host tool, capturing its output (for mmdebstrap and curl).
enum HostTool {
    static func path(_ name: String) -> String? {
        let search = (getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin") + ":/usr/sbin:/sbin"
        for folder in search.split(separator: ":") {
            let candidate = "\(folder)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// Runs `arguments` with `environment` added to bake's; returns status and output. Each
    /// output line also goes to `line`.
    static func run(_ arguments: [String], environment: [String: String] = [:], line: ((String) -> Void)? = nil) throws -> (Int32, [UInt8]) {
        var pipe: [Int32] = [-1, -1]
        // Close-on-exec: a tool another thread starts meanwhile must not hold the write end
        // (posix_spawn's dup2 gives this tool its copies without the flag).
        guard bake_pipe_cloexec(&pipe) == 0 else { throw LayersError.system(operation: "create a pipe for", path: arguments[0], errno: errno) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, pipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, pipe[1], 2)
        posix_spawn_file_actions_addclose(&actions, pipe[0])
        var env = [String: String]()
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") { env[String(text[..<equals])] = String(text[text.index(after: equals)...]) }
            pointer += 1
        }
        for (key, value) in environment { env[key] = value }
        var pid: pid_t = 0
        let status: Int32 = CStrings.with(arguments) { argv in
            CStrings.with(env.map { "\($0.key)=\($0.value)" }.sorted()) { envp in
                posix_spawnp(&pid, arguments[0], &actions, nil, argv, envp)
            }
        }
        close(pipe[1])
        guard status == 0 else {
            close(pipe[0])
            throw LayersError.system(operation: "run", path: arguments[0], errno: status)
        }
        var output: [UInt8] = []
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(pipe[0], $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            output.append(contentsOf: buffer[0..<count])
            if let line {
                pending.append(contentsOf: buffer[0..<count])
                while let newline = pending.firstIndex(of: 0x0a) {
                    line(String(decoding: pending[..<newline], as: UTF8.self))
                    pending.removeSubrange(...newline)
                }
            }
        }
        close(pipe[0])
        var exit: Int32 = 0
        while waitpid(pid, &exit, 0) < 0 && errno == EINTR {}
        return ((exit & 0x7f) == 0 ? (exit >> 8) & 0xff : 128 + (exit & 0x7f), output)
    }
}
