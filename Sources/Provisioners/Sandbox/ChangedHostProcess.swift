import CSandbox
import Glibc
import Layers

/// A bake process started on a changed host (`bake verify`'s rebuild): a new UTS namespace
/// with another hostname, another umask, and in a new mount namespace (whose mounts never
/// propagate back) host files shown with other bytes. Ctrl-C reaches it from the terminal;
/// bake passes it on as SIGTERM (a second one kills) and waits.
public struct ChangedHostProcess: Sendable {
    /// Program and arguments.
    public var arguments: [String]
    public var environment: [String: String]
    public var hostname: String
    public var umask: UInt32
    /// Files the process sees in place of host files (`target` shows `source`'s bytes).
    public var binds: [FileBind] = []

    /// A host file seen with another file's bytes.
    public struct FileBind: Sendable, Hashable {
        public var source: String
        public var target: String

        public init(source: String, target: String) {
            self.source = source
            self.target = target
        }
    }

    public init(arguments: [String], environment: [String: String], hostname: String, umask: UInt32) {
        self.arguments = arguments
        self.environment = environment
        self.hostname = hostname
        self.umask = umask
    }

    /// Runs the process to its end, its stdout discarded and its stderr bake's; returns its
    /// exit code.
    public func run() throws -> Int32 {
        let devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer { if devnull >= 0 { close(devnull) } }
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
                        bake_spawn_changed(arguments[0], argv, envp, hostname, umask, devnull,
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
        return WaitStatus(raw: status).code
    }
}
