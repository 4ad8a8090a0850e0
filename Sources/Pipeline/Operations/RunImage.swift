import Glibc
import Layers
import OCI
import Provisioners

/// `bake run IMAGE [-- CMD...]`: the image's entrypoint and cmd (or CMD) with its env,
/// workdir and user (or those of `RunOptions`), on the host's network, with the host paths
/// of `--volume` and no others, in a sandbox whose changes are discarded.
public enum ImageRunner {
    /// Runs the image and returns the command's exit status. The terminal is the command's.
    /// An interrupt sends the command the image's stop signal, then SIGKILL after
    /// `options.stopTimeout` seconds or at a second interrupt (130).
    public static func run(_ name: String, options: RunOptions, workspace: Workspace) throws -> Int32 {
        let command = options.command, extra = options.environment, limits = options.limits
        try workspace.requireStore()
        let store = workspace.store
        let unpacked = UnpackedLayers(store: store)
        let machine: any Machine
        let tree: ImageFilesystem
        let config: ImageConfig
        let layers: [Descriptor]
        let inUse: StoreLock
        do {
            // The store lock only while layers are unpacked; then a shared lock on the
            // unpacked layers, so builds go on while the image runs and gc leaves them be.
            let lock = try store.lock(exclusive: true) { workspace.onLockWait(store.lockPath) }
            defer { withExtendedLifetime(lock) {} }
            let descriptor = try ImageReference(parsing: name).resolve(in: store)
            let manifest = try store.readManifest(descriptor.digest)
            config = try store.readConfig(manifest.config.digest)
            layers = manifest.layers
            tree = try store.filesystem(layers: manifest.layers, diffIDs: config.rootfs.diffIDs)
            // --memory and --pids come from the person running bake: they are the ceiling too.
            machine = try OverlayMachineFactory(store: store, folder: try unpacked.runsFolder(), ceiling: limits, warn: workspace.onWarning)
                .machine(on: LayerStack(layers: manifest.layers, diffIDs: config.rootfs.diffIDs))
            inUse = try StoreLock(path: unpacked.lockPath, exclusive: false) {}
        }
        defer { withExtendedLifetime(inUse) {} }
        defer { machine.discard() }

        let container = config.config ?? ContainerConfig()
        var arguments = (container.entrypoint ?? []) + (command.isEmpty ? (container.cmd ?? []) : command)
        guard let program = arguments.first else {
            throw PipelineError.badInput("image \(name) has no entrypoint or cmd; give a command: bake run \(name) -- /bin/sh")
        }
        let account = try Self.account(user: options.user, image: container.user, users: ImageUsers(store: store, tree: tree, layers: layers))
        let stopSignal = try Self.stopSignal(container.stopSignal, image: name)
        if let workdir = options.workdir {
            try Self.requireFolder(workdir, in: tree, volumes: options.volumes, image: name)
        }
        var environment = container.env ?? []
        if !environment.contains(where: { $0.hasPrefix("PATH=") }) {
            environment.append("PATH=" + SandboxEnvironment.defaultPath)
        }
        if !environment.contains(where: { $0.hasPrefix("HOME=") }) { environment.append("HOME=\(account.home)") }
        environment.append("HOSTNAME=bake")
        if let term = getenv("TERM") { environment.append("TERM=\(String(cString: term))") }
        for entry in extra {
            let key = entry.split(separator: "=", maxSplits: 1).first.map(String.init) ?? entry
            guard entry.contains("="), !key.isEmpty else {
                throw PipelineError.badInput("--env \(entry) is not NAME=VALUE")
            }
            environment.removeAll { $0.hasPrefix(key + "=") }
            environment.append(entry)
        }
        if !program.hasPrefix("/") {
            arguments[0] = try lookUp(program, environment: environment, tree: tree, image: name)
        }

        Interrupts.installForRun(stopSignal: stopSignal, grace: options.stopTimeout)
        // The command may change the terminal's settings (`stty raw -echo`, a TUI that dies):
        // they are put back when it ends, however it ends.
        let terminal = TerminalSettings.save()
        defer { terminal?.restore() }
        do {
            return try machine.run(
                Command(arguments: arguments, environment: environment, workingDirectory: options.workdir ?? container.workingDir ?? "/",
                        user: account.identity, network: true, limits: limits, mounts: options.volumes, stopSignal: stopSignal),
                output: .inherit)
        } catch ProvisionersError.interrupted {
            return 130
        } catch ProvisionersError.sandbox(let message) where !options.volumes.isEmpty && message.contains("volume") {
            // Where a volume goes is decided by the image's symlinks, seen only in the
            // sandbox: an impossible mount point is the --volume option's fault.
            throw PipelineError.badInput("--volume: \(message)")
        }
    }

    /// `--user` (resolved in the image, as `config.user` is) or else the image's user.
    static func account(user: String?, image: String?, users: ImageUsers) throws -> ImageUsers.Account {
        guard let user else {
            do {
                return try users.account(configUser: image)
            } catch let error as InputError {
                throw PipelineError.badInput(error.message)
            }
        }
        let spec: UserSpec
        do {
            spec = try UserSpec(parsing: user)
        } catch .malformed {
            throw PipelineError.badInput("--user \(user) is not a user, uid, user:group or uid:gid")
        } catch .reservedID {
            throw PipelineError.badInput(UserSpec.reservedMessage("--user \(user)"))
        }
        do {
            return try users.account(spec)
        } catch let error as InputError {
            throw PipelineError.badInput("--user \(user): \(error.message)")
        }
    }

    /// `--workdir` must be a folder of the image (its symlinks followed) or lie in a volume.
    static func requireFolder(_ workdir: String, in tree: ImageFilesystem, volumes: [BindMount], image: String) throws {
        let cleaned = "/" + workdir.split(separator: "/").filter { $0 != "." }.joined(separator: "/")
        if volumes.contains(where: { cleaned == $0.target || cleaned.hasPrefix($0.target + "/") }) { return }
        if let relative = try? RelativePath(workdir, allowAbsolute: true),
           let resolved = try? tree.resolve(relative, followFinal: true),
           resolved.isRoot || tree.entry(at: resolved)?.isDirectory == true {
            return
        }
        throw PipelineError.badInput("--workdir \(workdir): image \(image) has no folder \(cleaned)")
    }

    /// The number of the image's `StopSignal` (SIGTERM when it has none).
    static func stopSignal(_ text: String?, image: String) throws -> Int32 {
        guard let text, !text.isEmpty else { return SIGTERM }
        guard let number = SignalName.number(text) else {
            throw PipelineError.badInput("the stop signal '\(text)' of image \(image) is not a signal name like SIGTERM or SIGQUIT")
        }
        return number
    }

    /// A program name found on the image's PATH, as an absolute path in the image.
    static func lookUp(_ program: String, environment: [String], tree: ImageFilesystem, image: String) throws -> String {
        let path = environment.last { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) } ?? "/usr/bin:/bin"
        for folder in path.split(separator: ":") where folder.hasPrefix("/") {
            let candidate = folder + "/" + program
            if let relative = try? RelativePath(candidate, allowAbsolute: true),
               let resolved = try? tree.resolve(relative, followFinal: true),
               let entry = tree.entry(at: resolved), !entry.isDirectory {
                return candidate
            }
        }
        throw PipelineError.badInput("'\(program)' is not on the PATH of image \(image) (\(path))")
    }
}

extension UnpackedLayers {
    /// Lock held (shared) by `bake run` while it uses unpacked layers.
    public var lockPath: String { store.root + "/unpacked.lock" }

    /// Where `bake run` makes its machines' folders.
    func runsFolder() throws -> String {
        let folder = store.root + "/runs"
        try FileSystem.createDirectory(folder, mode: 0o700)
        return folder
    }
}
