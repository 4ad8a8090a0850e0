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
    private var discarded = false

    /// `lowers` are the lower dirs, top layer first; a folder given more than once (an
    /// image whose steps made identical layers) is passed once, at its topmost place.
    /// `scratch` must not exist yet; the upper and work dirs and the mount point are made
    /// inside it.
    public init(lowers: [String], scratch: String, hostname: String = "bake") throws {
        self.lowers = Self.distinct(lowers)
        self.scratch = scratch
        self.hostname = hostname
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

    public func run(_ command: Command, output: CommandOutput) throws -> Int32 {
        // overlayfs takes its options as one page; lower dirs are given relative to their
        // common folder to fit many layers.
        let (mountDirectory, lowerNames) = Self.relativeLowers(lowers.isEmpty ? [empty] : lowers)
        let options = "lowerdir=" + lowerNames.map(Self.escape).joined(separator: ":")
            + ",upperdir=" + Self.escape(upper) + ",workdir=" + Self.escape(work)
            // The plain overlayfs bake's capture reads, whatever the host's defaults: a renamed
            // folder copied up whole (no redirect xattr), a chmod copying the data too (no
            // metacopy), no inode index.
            + ",redirect_dir=off,metacopy=off,index=off"
        guard options.utf8.count < 4000 else {
            throw ProvisionersError.sandbox("the image has too many layers (\(lowers.count)) for one overlay mount")
        }

        var errorPipe: [Int32] = [-1, -1]
        guard bake_pipe_cloexec(&errorPipe) == 0 else { throw LayersError.system(operation: "create a pipe for", path: scratch, errno: errno) }
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
                outputPipe = try Self.pipe(ownedBy: command.user, scratch: scratch)
                stdio = (-1, outputPipe[1], outputPipe[1])
            case .inherit where relayed:
                outputPipe = try Self.pipe(ownedBy: command.user, scratch: scratch)
                errorOutputPipe = try Self.pipe(ownedBy: command.user, scratch: scratch)
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
                    return try withCStrings(mountDirectory, options, root, hostname, command.workingDirectory) { mountDir, options, root, hostname, workdir in
                        let resolv = command.network ? "/etc/resolv.conf" : nil
                        return try withOptionalCString(resolv) { resolvConf in
                            try valuePointers.withUnsafeMutableBufferPointer { valuesBuffer in
                                try lengths.withUnsafeMutableBufferPointer { lengthsBuffer in
                                    try groups.withUnsafeMutableBufferPointer { groupsBuffer in
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
        } } catch {
            closePipes()
            throw error
        }
        bake_sandbox_track(pid)
        close(errorPipe[1])
        switch output {
        case .lines(let handler):
            close(outputPipe[1])
            Self.readLines(outputPipe[0], handler)
            close(outputPipe[0])
        case .inherit where relayed:
            close(outputPipe[1])
            close(errorOutputPipe[1])
            Self.relay([(outputPipe[0], 1), (errorOutputPipe[0], 2)])
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
        let setupError = Self.readAll(errorPipe[0])
        if Interrupts.happened { throw ProvisionersError.interrupted }
        let exitStatus: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        if exitStatus == 125, !setupError.isEmpty {
            throw ProvisionersError.sandbox(setupError.trimmingCharacters(in: "\n"))
        }
        if !setupError.isEmpty {
            // The command itself could not start (exec failed): its status is 125.
            throw ProvisionersError.sandbox(setupError.trimmingCharacters(in: "\n"))
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

    /// A close-on-exec pipe whose owner is `user` (for the end the command writes to).
    static func pipe(ownedBy user: UserIdentity, scratch: String) throws -> [Int32] {
        var fds: [Int32] = [-1, -1]
        guard bake_pipe_cloexec(&fds) == 0 else { throw LayersError.system(operation: "create a pipe for", path: scratch, errno: errno) }
        guard fchown(fds[1], user.uid, user.gid) == 0 else {
            let error = errno
            close(fds[0])
            close(fds[1])
            throw LayersError.system(operation: "give the command's output pipe to its user in", path: scratch, errno: error)
        }
        return fds
    }

    /// Copies each source to its destination as bytes arrive, until every source ends. A
    /// destination that is gone (a closed pipe) is drained into nothing, so the command is
    /// never blocked on output nobody reads.
    static func relay(_ pairs: [(source: Int32, destination: Int32)]) {
        // A write to a closed stdout must not kill bake (and with it the sandbox) at once.
        signal(SIGPIPE, SIG_IGN)
        var open = pairs.map { pollfd(fd: $0.source, events: Int16(POLLIN), revents: 0) }
        var destinations = pairs.map(\.destination)
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while !open.isEmpty {
            let ready = poll(&open, nfds_t(open.count), -1)
            if ready < 0 {
                if errno == EINTR { continue }
                return
            }
            var index = 0
            while index < open.count {
                guard open[index].revents != 0 else { index += 1; continue }
                let count = buffer.withUnsafeMutableBytes { read(open[index].fd, $0.baseAddress, $0.count) }
                if count < 0 && (errno == EINTR || errno == EAGAIN) { index += 1; continue }
                if count <= 0 {
                    open.remove(at: index)
                    destinations.remove(at: index)
                    continue
                }
                var written = 0
                while written < count, destinations[index] >= 0 {
                    let result = buffer.withUnsafeBytes { write(destinations[index], $0.baseAddress! + written, count - written) }
                    if result < 0 && errno == EINTR { continue }
                    if result < 0 && errno == EAGAIN {
                        // A destination someone made non-blocking: wait until it takes more.
                        var writable = pollfd(fd: destinations[index], events: Int16(POLLOUT), revents: 0)
                        _ = poll(&writable, 1, -1)
                        continue
                    }
                    if result <= 0 { destinations[index] = -1; break }
                    written += result
                }
                index += 1
            }
        }
    }

    static func readLines(_ fd: Int32, _ handler: (String) -> Void) {
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            pending.append(contentsOf: buffer[0..<count])
            while let newline = pending.firstIndex(of: 0x0a) {
                handler(String(decoding: pending[..<newline], as: UTF8.self))
                pending.removeSubrange(...newline)
            }
        }
        if !pending.isEmpty { handler(String(decoding: pending, as: UTF8.self)) }
    }

    static func readAll(_ fd: Int32) -> String {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            result.append(contentsOf: buffer[0..<count])
        }
        return String(decoding: result, as: UTF8.self)
    }
}

extension String {
    /// The string without the trailing characters that are in `characters`.
    public func trimmingCharacters(in characters: String) -> String {
        var result = Substring(self)
        while let last = result.last, characters.contains(last) { result.removeLast() }
        return String(result)
    }
}

/// NULL-terminated C string arrays that live for the duration of a closure.
public enum CStrings {
    public static func with<T>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) throws -> T) rethrows -> T {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        pointers.append(nil)
        defer { pointers.forEach { free($0) } }
        return try pointers.withUnsafeBufferPointer { try body($0.baseAddress!) }
    }
}

func withOptionalCString<T>(_ string: String?, _ body: (UnsafePointer<CChar>?) throws -> T) rethrows -> T {
    guard let string else { return try body(nil) }
    return try string.withCString { try body($0) }
}

func withCStrings<T>(
    _ a: String?, _ b: String, _ c: String, _ d: String, _ e: String,
    _ body: (UnsafePointer<CChar>?, UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafePointer<CChar>) throws -> T
) rethrows -> T {
    try withOptionalCString(a) { a in
        try b.withCString { b in try c.withCString { c in try d.withCString { d in try e.withCString { e in try body(a, b, c, d, e) } } } }
    }
}
