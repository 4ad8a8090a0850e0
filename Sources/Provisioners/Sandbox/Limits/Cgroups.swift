import Glibc
import Layers

/// How this host's cgroups limit commands, found once per process: cgroup v2 when bake's
/// cgroup there offers the memory and pids controllers, else the v1 memory and pids
/// hierarchies, else a sentence saying why neither can (a sandbox never runs unlimited).
enum Cgroups {
    /// Where command cgroups are made.
    enum Layout: Sendable, Hashable {
        /// One v2 folder: command cgroups are made in it (bake's own cgroup when it may have
        /// children with the controllers, else its parent, beside bake's).
        case v2(parent: String)
        /// bake's own cgroup in the v1 memory and pids hierarchies.
        case v1(memory: String, pids: String)
    }

    static let layout: Result<Layout, ProvisionersError> = {
        let mountinfo = (try? FileSystem.readFile("/proc/self/mountinfo", limit: 4 << 20)) ?? []
        let own = (try? FileSystem.readFile("/proc/self/cgroup", limit: 1 << 20)) ?? []
        let found = discover(mounts: CgroupMounts(mountinfo: String(decoding: mountinfo, as: UTF8.self)),
                             own: CgroupMounts.ownCgroups(procSelfCgroup: String(decoding: own, as: UTF8.self)))
        if case .success(let layout) = found { removeAbandoned(layout) }
        return found
    }()

    static func discover(mounts: CgroupMounts, own: CgroupMounts.Own) -> Result<Layout, ProvisionersError> {
        let v2Reason: String
        if let point = mounts.unified, let path = own.unified {
            switch v2Parent(mounts.folder(of: path, mountedAt: point), mount: point) {
            case .success(let parent): return .success(.v2(parent: parent))
            case .failure(let reason): v2Reason = reason.message
            }
        } else {
            v2Reason = "there is no cgroup2 mount"
        }
        var v1Reason = ""
        var folders: [String: String] = [:]
        for controller in ["memory", "pids"] {
            guard let point = mounts.v1[controller], let path = own.v1[controller] else {
                v1Reason = "no cgroup v1 hierarchy has the \(controller) controller"
                break
            }
            let folder = mounts.folder(of: path, mountedAt: point)
            guard access(folder + "/cgroup.procs", W_OK) == 0 else {
                v1Reason = "the cgroup v1 folder \(folder) cannot be written (\(String(cString: strerror(errno))))"
                break
            }
            folders[controller] = folder
        }
        if let memory = folders["memory"], let pids = folders["pids"] { return .success(.v1(memory: memory, pids: pids)) }
        return .failure(.sandbox(unusable(v2: v2Reason, v1: v1Reason)))
    }

    /// The sentence for a host where neither version can limit a command.
    static func unusable(v2: String, v1: String) -> String {
        "cannot limit the step's memory and processes: \(v2), and \(v1) (mount cgroup2 with the memory and pids controllers, or the v1 memory and pids hierarchies)"
    }

    /// The v2 folder to make command cgroups in, given bake's own cgroup folder.
    static func v2Parent(_ folder: String, mount: String) -> Result<String, InputError> {
        let controllers = words(folder + "/cgroup.controllers")
        let missing = ["memory", "pids"].filter { !controllers.contains($0) }
        guard missing.isEmpty else {
            return .failure(InputError("the cgroup2 mount \(mount) offers no \(missing.joined(separator: " and ")) controller"
                                       + (missing.count > 1 ? "s" : "")))
        }
        if Set(["memory", "pids"]).isSubset(of: words(folder + "/cgroup.subtree_control")) { return .success(folder) }
        if (try? CommandCgroup.write("+memory +pids", to: folder + "/cgroup.subtree_control")) != nil { return .success(folder) }
        // bake's cgroup holds processes (cgroup v2 lets only a cgroup without processes
        // hand controllers to children): beside it, in its parent, which hands them to
        // bake's cgroup already (they are in its cgroup.controllers).
        guard folder != mount else {
            return .failure(InputError("the cgroup2 folder \(folder) cannot hand the memory and pids controllers to a child"))
        }
        return .success(FileSystem.parent(of: folder))
    }

    /// The whitespace-separated words of a small cgroup file (none if it cannot be read).
    static func words(_ path: String) -> Set<String> {
        guard let bytes = try? FileSystem.readFile(path, limit: 1 << 20) else { return [] }
        return Set(String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
    }

    /// Removes the empty cgroups a killed bake left (`bake-PID-N` of a PID that is gone).
    static func removeAbandoned(_ layout: Layout) {
        let parents: [String]
        switch layout {
        case .v2(let parent): parents = [parent]
        case .v1(let memory, let pids): parents = [memory, pids]
        }
        for parent in parents {
            guard let names = try? FileSystem.directoryEntries(Array(parent.utf8)) else { continue }
            for name in names.map({ String(decoding: $0, as: UTF8.self) }) where name.hasPrefix(CommandCgroup.prefix) {
                let parts = name.dropFirst(CommandCgroup.prefix.count).split(separator: "-")
                guard parts.count == 2, let pid = pid_t(parts[0]), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
                rmdir(parent + "/" + name)  // only an empty cgroup goes
            }
        }
    }
}
