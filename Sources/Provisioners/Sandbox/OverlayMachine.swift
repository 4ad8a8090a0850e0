import CSandbox
import Glibc
import Layers

/// A machine whose root is an overlayfs of unpacked layers (read-only lower dirs) and a
/// fresh upper dir, run in new mount, PID, UTS and IPC namespaces (and a new network
/// namespace unless a command asks for the network), behind pivot_root. Whatever a command
/// changes lands in `upper`; every process of a command dies with it; no mount outlives it.
public final class OverlayMachine: Machine {
    /// Lower dirs, top layer first.
    let lowers: [String]
    /// A fresh folder of this machine (upper, work, root); removed by `discard()`.
    public let scratch: String
    let hostname: String
    /// The most a command may ask for (`ResourceLimits.bounded(by:)`).
    let ceiling: ResourceLimits
    private var discarded = false
    /// The cgroup folders of the last command run (gone once it ended), for tests.
    private(set) var lastCgroups: [String] = []

    /// `lowers` are the lower dirs, top layer first; a folder given more than once (an
    /// image whose steps made identical layers) is passed once, at its topmost place.
    /// `scratch` must not exist yet or be an empty folder of mode 0700; the upper and work
    /// dirs and the mount point are made inside it. `ceiling`: the most memory and processes
    /// a command may ask for (the defaults unless the person running bake allows more).
    public init(lowers: [String], scratch: String, hostname: String = "bake", ceiling: ResourceLimits = ResourceLimits()) throws {
        self.lowers = lowers
        self.scratch = scratch
        self.hostname = hostname
        self.ceiling = ceiling
        // 0700 from the start (mkdir's mode only loses bits to the umask): while a step runs,
        // its upper dir holds whatever it made (a setuid root file, a device node), which no
        // other user of the host may reach.
        guard mkdir(scratch, 0o700) == 0 || errno == EEXIST else {
            throw LayersError.system(operation: "create folder", path: scratch, errno: errno)
        }
        let status = try FileSystem.lstatPath(scratch)
        guard status.kind == .directory, status.permissions & 0o077 == 0 else {
            throw LayersError.store("the scratch folder \(scratch) must be a folder only its owner can enter")
        }
        for folder in [upper, work, root, empty] {
            try FileSystem.createDirectory(folder, mode: 0o755)
            // The upper dir is the sandbox's `/`: 0755 whatever bake's umask, or a step run
            // as another user could not even reach /bin/sh.
            guard chmod(folder, 0o755) == 0 else { throw LayersError.system(operation: "chmod", path: folder, errno: errno) }
        }
    }

    deinit {
        discard()
    }

    /// Where the commands' changes are.
    public var upper: String { scratch + "/upper" }
    var work: String { scratch + "/work" }
    var root: String { scratch + "/root" }
    var empty: String { scratch + "/empty" }

    /// Removes the machine's folders (upper included).
    public func discard() {
        guard !discarded else { return }
        discarded = true
        try? FileSystem.removeTree(scratch)
    }

    /// The mount points the sandbox creates when the image lacks them; left out of the
    /// changes unless the image below has them.
    static let mountPoints = ["proc", "dev", "tmp", "run/secrets", "etc/resolv.conf", "run"]

    public func changes(below: ImageFilesystem, epoch: Int64, into tar: TarWriter) throws -> [TarEntry] {
        Self.removeMountPoints(upper: upper, below: below)
        try Normaliser.apply(toUpper: upper, epoch: epoch, below: { below.entry(at: $0) != nil })
        // Lower dirs bottom first: the index of a layer in the image.
        let unpacked = Array(lowers.reversed())
        let capture = OverlayCapture(
            upper: upper, lower: below,
            lowerFolder: { path in
                below.layerIndex(at: path).flatMap { $0 >= 0 && $0 < unpacked.count ? unpacked[$0] : nil }
            },
            epoch: epoch)
        return try capture.write(into: tar)
    }

    /// Removes the sandbox's mount points from the upper dir when the image below had none.
    /// Each is reached from the upper dir one folder at a time (`openat` with `O_NOFOLLOW`)
    /// and removed with `unlinkat`: a step that made `/etc` or `/run` a symlink to a host
    /// folder leads nowhere, and nothing outside the upper dir is ever removed.
    static func removeMountPoints(upper: String, below tree: ImageFilesystem) {
        let top = open(upper, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard top >= 0 else { return }
        defer { close(top) }
        for point in mountPoints {
            guard let path = try? RelativePath(point), tree.entry(at: path) == nil else { continue }
            let components = point.split(separator: "/").map(String.init)
            var folder = top
            var opened: [Int32] = []
            defer { opened.forEach { close($0) } }
            for component in components.dropLast() {
                let next = openat(folder, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard next >= 0 else { break }
                opened.append(next)
                folder = next
            }
            guard opened.count == components.count - 1, let name = components.last else { continue }
            var status = stat()
            guard fstatat(folder, name, &status, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            switch status.st_mode & S_IFMT {
            case S_IFDIR:
                unlinkat(folder, name, AT_REMOVEDIR)  // only when empty: a step may have put something real there
            case S_IFREG where status.st_size == 0:
                unlinkat(folder, name, 0)
            default:
                continue
            }
        }
    }

    public func run(_ command: Command, output: CommandOutput) throws -> Int32 {
        // overlayfs takes its options as one page; lower dirs are given relative to their
        // common folder to fit many layers.
        // Each folder once (the layer index of a path still counts every layer, see `changes`).
        let distinctLowers = Self.distinct(lowers)
        let (mountDirectory, lowerNames) = Self.relativeLowers(distinctLowers.isEmpty ? [empty] : distinctLowers)
        let options = "lowerdir=" + lowerNames.map(Self.escape).joined(separator: ":")
            + ",upperdir=" + Self.escape(upper) + ",workdir=" + Self.escape(work)
            // The plain overlayfs bake's capture reads, whatever the host's defaults: a renamed
            // folder copied up whole (no redirect xattr), a chmod copying the data too (no
            // metacopy), no inode index.
            + ",redirect_dir=off,metacopy=off,index=off"
        guard options.utf8.count < 4000 else {
            throw ProvisionersError.sandbox("the image has too many layers (\(lowers.count)) for one overlay mount")
        }

        let seccomp = bake_seccomp_status()
        guard seccomp == 0 else {
            throw ProvisionersError.sandbox("cannot build the seccomp filter (libseccomp): \(String(cString: strerror(seccomp)))")
        }
        let cgroup = try CommandCgroup(limits: try command.limits.bounded(by: ceiling))
        defer { cgroup.remove() }
        lastCgroups = cgroup.folders
        // The step's /tmp holds at most its memory limit (its pages count against it anyway):
        // a full /tmp is a clean ENOSPC.
        let tmpOptions = "mode=1777,size=\(cgroup.memory)"

        let errorPipe = try HostProcess.pipe(for: scratch)
        defer { close(errorPipe[0]) }
        var outputPipe: [Int32] = [-1, -1]
        var errorOutputPipe: [Int32] = [-1, -1]
        var stdio: (Int32, Int32, Int32) = (0, 1, 2)
        let closePipes = {
            close(errorPipe[1])
            for pipe in [outputPipe, errorOutputPipe] where pipe[0] >= 0 { close(pipe[0]); close(pipe[1]) }
        }
        // A command's stdout and stderr belong to its user, as under Docker and podman: a
        // process may open /dev/stdout again only when it may open what that is (nginx does,
        // for `access_log /dev/stdout`), and a user other than root may not open bake's.
        let relayed = command.user.uid != 0
        do {
            switch output {
            case .lines:
                outputPipe = try HostProcess.pipe(ownedBy: command.user, for: scratch)
                stdio = (-1, outputPipe[1], outputPipe[1])
            case .inherit where relayed:
                outputPipe = try HostProcess.pipe(ownedBy: command.user, for: scratch)
                errorOutputPipe = try HostProcess.pipe(ownedBy: command.user, for: scratch)
                stdio = (0, outputPipe[1], errorOutputPipe[1])
            case .inherit:
                break
            }
        } catch {
            closePipes()
            throw error
        }
        let pid: pid_t
        do { pid = try CStrings.with(command.arguments) { argv in
            try CStrings.with(command.environment) { envp in
                try CStrings.with(command.secrets.map(\.id)) { names in
                    let values = command.secrets.map { UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max($0.value.count, 1)) }
                    defer { values.forEach { $0.deallocate() } }
                    for (buffer, secret) in zip(values, command.secrets) { _ = buffer.initialize(from: secret.value) }
                    var valuePointers: [UnsafePointer<UInt8>?] = values.map { UnsafePointer($0.baseAddress) }
                    var lengths: [Int] = command.secrets.map(\.value.count)
                    var groups: [UInt32] = command.user.groups
                    var cgroupFDs: [Int32] = cgroup.procs
                    var readOnly: [Int32] = command.mounts.map { $0.readOnly ? 1 : 0 }
                    return try Self.withCStrings(mountDirectory, options, root, hostname, command.workingDirectory) { mountDir, options, root, hostname, workdir in
                        let resolv = command.network ? "/etc/resolv.conf" : nil
                        return try CStrings.withOptional(resolv) { resolvConf in
                          try tmpOptions.withCString { tmpOptions in
                           try cgroupFDs.withUnsafeMutableBufferPointer { cgroupBuffer in
                            try valuePointers.withUnsafeMutableBufferPointer { valuesBuffer in
                                try lengths.withUnsafeMutableBufferPointer { lengthsBuffer in
                                    try groups.withUnsafeMutableBufferPointer { groupsBuffer in
                                     try CStrings.with(command.mounts.map(\.source)) { mountSources in
                                      try CStrings.with(command.mounts.map(\.target)) { mountTargets in
                                       try readOnly.withUnsafeMutableBufferPointer { readOnlyBuffer in
                                        var config = bake_sandbox_config()
                                        config.mount_dir = mountDir
                                        config.overlay_options = options
                                        config.root = root
                                        config.hostname = hostname
                                        config.new_network = command.network ? 0 : 1
                                        config.resolv_conf = resolvConf
                                        config.secret_names = names
                                        config.secret_values = UnsafePointer(valuesBuffer.baseAddress)
                                        config.secret_lengths = UnsafePointer(lengthsBuffer.baseAddress)
                                        config.secret_count = Int32(command.secrets.count)
                                        config.workdir = workdir
                                        config.uid = command.user.uid
                                        config.gid = command.user.gid
                                        config.groups = UnsafePointer(groupsBuffer.baseAddress)
                                        config.group_count = Int32(groupsBuffer.count)
                                        config.umask = command.umask
                                        config.argv = argv
                                        config.envp = envp
                                        config.stdin_fd = stdio.0
                                        config.stdout_fd = stdio.1
                                        config.stderr_fd = stdio.2
                                        config.error_fd = errorPipe[1]
                                        config.cgroup_fds = UnsafePointer(cgroupBuffer.baseAddress)
                                        config.cgroup_count = Int32(cgroupBuffer.count)
                                        config.cgroup_join_self = cgroup.joinedByTheInit ? 1 : 0
                                        config.tmp_options = tmpOptions
                                        config.stop_signal = command.stopSignal
                                        config.mount_sources = mountSources
                                        config.mount_targets = mountTargets
                                        config.mount_read_only = UnsafePointer(readOnlyBuffer.baseAddress)
                                        config.mount_count = Int32(command.mounts.count)
                                        let pid = bake_sandbox_spawn(&config)
                                        guard pid > 0 else {
                                            throw ProvisionersError.sandbox("clone failed: \(String(cString: strerror(errno)))")
                                        }
                                        return pid
                                       }
                                      }
                                     }
                                    }
                                }
                            }
                           }
                          }
                        }
                    }
                }
            }
        } } catch {
            closePipes()
            throw error
        }
        bake_sandbox_track(pid)
        close(errorPipe[1])
        switch output {
        case .lines(let handler):
            close(outputPipe[1])
            HostProcess.readLines(outputPipe[0], handler)
            close(outputPipe[0])
        case .inherit where relayed:
            close(outputPipe[1])
            close(errorOutputPipe[1])
            HostProcess.relay([(outputPipe[0], 1), (errorOutputPipe[0], 2)])
            close(outputPipe[0])
            close(errorOutputPipe[0])
        case .inherit:
            break
        }
        var status: Int32 = 0
        guard bake_sandbox_wait(pid, &status) == 0 else {
            bake_sandbox_untrack(pid)
            throw LayersError.system(operation: "wait for the sandbox of", path: scratch, errno: errno)
        }
        let setupError = String(decoding: HostProcess.readAll(errorPipe[0]), as: UTF8.self)
        let exitStatus = WaitStatus(raw: status).code
        // Read before the cgroup goes; whatever is left in it is killed with it.
        let hit = exitStatus != 0 ? cgroup.limitHit() : nil
        cgroup.remove()
        if Interrupts.happened { throw ProvisionersError.interrupted }
        if let hit { throw ProvisionersError.limitReached(hit) }
        if exitStatus == 125, !setupError.isEmpty {
            if setupError.hasPrefix("cannot mount the overlay") {
                // Most often the store is on a file system overlayfs cannot use (FUSE, NFS):
                // say which, and how to move the store.
                let folders = [upper] + distinctLowers
                if let unusable = folders.lazy.compactMap({ MountedFileSystem.holding($0) }).first(where: { !$0.isLocal }) {
                    throw ProvisionersError.unusableFileSystem(folder: scratch, fileSystem: unusable, cause: setupError.droppingTrailing("\n"))
                }
            }
            throw ProvisionersError.sandbox(setupError.droppingTrailing("\n"))
        }
        if !setupError.isEmpty {
            // The command itself could not start (exec failed): its status is 125.
            throw ProvisionersError.sandbox(setupError.droppingTrailing("\n"))
        }
        return exitStatus
    }

    // MARK: - Helpers

    /// Lower dirs without repeats, keeping each at its first (topmost) place. overlayfs
    /// refuses a folder given twice ("Too many levels of symbolic links"), and dropping the
    /// lower copy changes nothing: for every path the topmost layer that has it (or hides
    /// it) decides, and that is still the copy kept above.
    static func distinct(_ lowers: [String]) -> [String] {
        var seen: Set<String> = []
        return lowers.filter { seen.insert($0).inserted }
    }

    static func relativeLowers(_ lowers: [String]) -> (String?, [String]) {
        let parents = Set(lowers.map { FileSystem.parent(of: $0) })
        guard parents.count == 1, let parent = parents.first else { return (nil, lowers) }
        return (parent, lowers.map { String($0.dropFirst(parent.count + (parent == "/" ? 0 : 1))) })
    }

    /// overlayfs option values escape ',', ':' and '\' with a backslash.
    static func escape(_ path: String) -> String {
        var out = ""
        for character in path {
            if character == "," || character == ":" || character == "\\" { out.append("\\") }
            out.append(character)
        }
        return out
    }


    /// Five C strings (the first optional) for the duration of `body`.
    static func withCStrings<T>(
        _ a: String?, _ b: String, _ c: String, _ d: String, _ e: String,
        _ body: (UnsafePointer<CChar>?, UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafePointer<CChar>) throws -> T
    ) rethrows -> T {
        try CStrings.withOptional(a) { a in
            try b.withCString { b in try c.withCString { c in try d.withCString { d in try e.withCString { e in try body(a, b, c, d, e) } } } }
        }
    }
}
