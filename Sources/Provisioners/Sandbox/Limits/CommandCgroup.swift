import Glibc
import Layers
import Synchronization

/// The cgroup of one command (one per hierarchy on cgroup v1): made with its limits before
/// the sandbox starts, joined by the sandbox's init before it starts anything, read for the
/// limit it hit, then emptied (every process left is killed) and removed.
final class CommandCgroup {
    static let prefix = "bake-"
    private static let counter = Atomic<Int>(0)

    /// The cgroup's folders (v2: one; v1: memory, then pids).
    let folders: [String]
    let memory: UInt64
    let processes: Int
    private let unified: Bool
    /// Open files of each folder the sandbox's init is moved in with: v2 `cgroup.procs`,
    /// which bake writes the init's pid into; v1 `tasks`, which the init writes "0" into
    /// itself (see `joinedByTheInit`).
    private(set) var procs: [Int32] = []
    /// v1: the init moves itself, as a thread, which takes none of the kernel's global
    /// locks (moving another process waits for an RCU grace period, ~10 ms a step).
    var joinedByTheInit: Bool { !unified }
    private var removed = false

    init(limits: ResourceLimits) throws {
        let layout = try Cgroups.layout.get()
        memory = limits.effectiveMemory
        processes = limits.effectiveProcesses
        let name = "\(Self.prefix)\(getpid())-\(Self.counter.add(1, ordering: .relaxed).newValue)"
        switch layout {
        case .v2(let parent):
            unified = true
            folders = [parent + "/" + name]
        case .v1(let memoryParent, let pidsParent):
            unified = false
            folders = [memoryParent + "/" + name, pidsParent + "/" + name]
        }
        do {
            for folder in folders {
                guard mkdir(folder, 0o755) == 0 else { throw LayersError.system(operation: "create the cgroup", path: folder, errno: errno) }
            }
            if unified {
                try Self.write(String(memory), to: folders[0] + "/memory.max")
                // No swap: over the limit is over the limit, not slower.
                if access(folders[0] + "/memory.swap.max", F_OK) == 0 { try Self.write("0", to: folders[0] + "/memory.swap.max") }
                try Self.write(String(processes), to: folders[0] + "/pids.max")
            } else {
                try Self.write(String(memory), to: folders[0] + "/memory.limit_in_bytes")
                if access(folders[0] + "/memory.memsw.limit_in_bytes", F_OK) == 0 {
                    try Self.write(String(memory), to: folders[0] + "/memory.memsw.limit_in_bytes")
                }
                try Self.write(String(processes), to: folders[1] + "/pids.max")
            }
            for folder in folders {
                let file = folder + (unified ? "/cgroup.procs" : "/tasks")
                let fd = open(file, O_WRONLY | O_CLOEXEC)
                guard fd >= 0 else { throw LayersError.system(operation: "open", path: file, errno: errno) }
                procs.append(fd)
            }
        } catch {
            remove()
            throw ProvisionersError.sandbox("cannot make the step's cgroup: \(error)")
        }
    }

    deinit {
        remove()
    }

    /// The limit the command ran into, if any (read before `remove()`).
    func limitHit() -> LimitHit? {
        let memoryEvents = unified ? folders[0] + "/memory.events" : folders[0] + "/memory.oom_control"
        if (Self.eventCount(memoryEvents, "oom_kill") ?? 0) > 0 { return .memory(bytes: memory) }
        if (Self.eventCount(folders[unified ? 0 : 1] + "/pids.events", "max") ?? 0) > 0 { return .processes(count: processes) }
        return nil
    }

    /// Kills whatever is still in the cgroup and removes it (waiting up to 5 s for the
    /// processes to be gone). Safe to call twice.
    func remove() {
        guard !removed else { return }
        removed = true
        for fd in procs { close(fd) }
        procs = []
        if unified, access(folders[0] + "/cgroup.kill", F_OK) == 0 { try? Self.write("1", to: folders[0] + "/cgroup.kill") }
        for _ in 0..<1000 {
            var busy = false
            for folder in folders {
                if rmdir(folder) == 0 || errno == ENOENT { continue }
                busy = true
                for pid in Cgroups.words(folder + "/cgroup.procs").compactMap({ pid_t($0) }) { kill(pid, SIGKILL) }
            }
            if !busy { return }
            usleep(5_000)
        }
    }

    /// The value of `key` in a flat-keyed cgroup file ("oom_kill 2").
    static func eventCount(_ path: String, _ key: String) -> UInt64? {
        guard let bytes = try? FileSystem.readFile(path, limit: 1 << 20) else { return nil }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 2, fields[0] == key { return UInt64(fields[1]) }
        }
        return nil
    }

    /// Writes a value to a cgroup file.
    static func write(_ value: String, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw LayersError.system(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        let written = value.withCString { Glibc.write(fd, $0, strlen($0)) }
        guard written == value.utf8.count else { throw LayersError.system(operation: "write \(value) to", path: path, errno: errno) }
    }
}
