import Layers

/// Where the cgroup hierarchies are mounted (from /proc/self/mountinfo) and where bake's own
/// cgroups are in them (from /proc/self/cgroup). A host may have cgroup v2 alone, v1 alone,
/// or both (v1 controllers beside a v2 mount that has none of them).
struct CgroupMounts: Sendable, Hashable {
    /// The first cgroup2 mount point.
    var unified: String?
    /// A v1 controller (`memory`, `pids`, ...) -> the mount point of its hierarchy.
    var v1: [String: String] = [:]
    /// Mount point -> the cgroup the mount shows at its root ("/" unless a subtree is mounted).
    var roots: [String: String] = [:]

    init(mountinfo: String) {
        for line in mountinfo.split(separator: "\n") {
            // ID PARENT MAJOR:MINOR ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPEROPTIONS
            let fields = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            guard let dash = fields.firstIndex(of: "-"), dash >= 5, fields.count > dash + 1 else { continue }
            let root = Self.unescape(fields[3])
            let point = Self.unescape(fields[4])
            switch fields[dash + 1] {
            case "cgroup2":
                if unified == nil {
                    unified = point
                    roots[point] = root
                }
            case "cgroup":
                let options = fields.count > dash + 3 ? fields[dash + 3].split(separator: ",").map(String.init) : []
                for option in options where !option.contains("=") && option != "rw" && option != "ro" && v1[option] == nil {
                    v1[option] = point
                    roots[point] = root
                }
            default:
                continue
            }
        }
    }

    /// The cgroups of the calling process: its v2 cgroup, and each v1 controller's.
    struct Own: Sendable, Hashable {
        var unified: String?
        var v1: [String: String] = [:]
    }

    static func ownCgroups(procSelfCgroup: String) -> Own {
        var own = Own()
        for line in procSelfCgroup.split(separator: "\n") {
            // HIERARCHY-ID:CONTROLLERS:PATH (PATH may hold ':')
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 3 else { continue }
            if fields[0] == "0" && fields[1].isEmpty {
                own.unified = fields[2]
            } else {
                for controller in fields[1].split(separator: ",") { own.v1[String(controller)] = fields[2] }
            }
        }
        return own
    }

    /// The host folder of `cgroup` (a path in the hierarchy) under the mount at `point`.
    func folder(of cgroup: String, mountedAt point: String) -> String {
        var relative = cgroup
        if let root = roots[point], root != "/", relative.hasPrefix(root) { relative = String(relative.dropFirst(root.count)) }
        if relative.hasPrefix("/") { relative.removeFirst() }
        return relative.isEmpty ? point : point + "/" + relative
    }

    /// mountinfo escapes space, tab, newline and backslash as \ooo.
    static func unescape(_ text: String) -> String {
        var bytes: [UInt8] = []
        let source = Array(text.utf8)
        var index = 0
        while index < source.count {
            if source[index] == 0x5c, index + 4 <= source.count,
               let value = UInt8(String(decoding: source[(index + 1)..<(index + 4)], as: UTF8.self), radix: 8) {
                bytes.append(value)
                index += 4
            } else {
                bytes.append(source[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
