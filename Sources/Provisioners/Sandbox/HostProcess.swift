import CSandbox
import Glibc
import Layers

/// Processes on the host, and the pipes to them: the one place that spawns, reads pipes and
/// decodes wait statuses, for host tools (mmdebstrap, curl, git, diffoscope), the sandbox
/// and the verification build.
public enum HostProcess {
    /// A close-on-exec pipe (read end, write end): a process another thread starts meanwhile
    /// must not inherit either end.
    static func pipe(for what: String) throws -> [Int32] {
        var fds: [Int32] = [-1, -1]
        guard bake_pipe_cloexec(&fds) == 0 else { throw LayersError.system(operation: "create a pipe for", path: what, errno: errno) }
        return fds
    }

    /// A close-on-exec pipe whose write end belongs to `user` (a command's output pipe).
    static func pipe(ownedBy user: UserIdentity, for what: String) throws -> [Int32] {
        let fds = try pipe(for: what)
        guard fchown(fds[1], user.uid, user.gid) == 0 else {
            let error = errno
            close(fds[0])
            close(fds[1])
            throw LayersError.system(operation: "give the command's output pipe to its user in", path: what, errno: error)
        }
        return fds
    }

    /// Starts `arguments` (looked up on PATH) with `environment`, stdin from /dev/null and
    /// stdout and stderr on `output`.
    static func spawn(_ arguments: [String], environment: [String], output: Int32) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        // posix_spawn's dup2 gives the program its copies without close-on-exec.
        posix_spawn_file_actions_adddup2(&actions, output, 1)
        posix_spawn_file_actions_adddup2(&actions, output, 2)
        var pid: pid_t = 0
        let status: Int32 = CStrings.with(arguments) { argv in
            CStrings.with(environment) { envp in
                posix_spawnp(&pid, arguments[0], &actions, nil, argv, envp)
            }
        }
        guard status == 0 else { throw LayersError.system(operation: "run", path: arguments[0], errno: status) }
        return pid
    }

    /// Waits for a child (not a tracked sandbox) to end.
    static func wait(_ pid: pid_t, what: String) throws -> WaitStatus {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw LayersError.system(operation: "wait for", path: what, errno: errno) }
        }
        return WaitStatus(raw: status)
    }

    /// Reads `fd` to its end, passing each line (without its newline) to `handler`; a last
    /// line without a newline is passed too.
    static func readLines(_ fd: Int32, _ handler: (String) -> Void) {
        var pending: [UInt8] = []
        readChunks(fd) { chunk in
            pending.append(contentsOf: chunk)
            while let newline = pending.firstIndex(of: 0x0a) {
                handler(String(decoding: pending[..<newline], as: UTF8.self))
                pending.removeSubrange(...newline)
            }
        }
        if !pending.isEmpty { handler(String(decoding: pending, as: UTF8.self)) }
    }

    /// Reads `fd` to its end.
    static func readAll(_ fd: Int32) -> [UInt8] {
        var result: [UInt8] = []
        readChunks(fd) { result.append(contentsOf: $0) }
        return result
    }

    /// Reads `fd` to its end (or an error), chunk by chunk.
    static func readChunks(_ fd: Int32, _ body: (ArraySlice<UInt8>) -> Void) {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            body(buffer[0..<count])
        }
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
}
