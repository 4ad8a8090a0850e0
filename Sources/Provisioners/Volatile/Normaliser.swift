import Glibc
import Layers

/// Makes a step's changes deterministic before they become a layer: each row of
/// `VolatileFiles.table` that has an action is applied to the upper dir. `drop` removes the
/// path (a whiteout when the image below has it, so a stale copy never shows through;
/// deletions inside a dropped folder are kept), `empty` leaves an empty file, `shadowDates`
/// clamps the "last password change" days of /etc/shadow to the build day.
public enum Normaliser {
    public enum Action: Sendable, Hashable {
        case drop
        case empty
        case shadowDates
    }

    /// The rows the normaliser applies (the table's rows with an action).
    public static let rules: [VolatileFile] = VolatileFiles.table.filter { $0.action != nil }

    /// Applies the rules to an upper dir; returns the paths it changed, in order. `below`
    /// says whether the image under the upper dir has a path.
    @discardableResult
    public static func apply(toUpper upper: String, epoch: Int64, below: (RelativePath) -> Bool = { _ in false }) throws -> [String] {
        var targets: [(RelativePath, Action)] = []
        try DirectoryWalker.walk(Array(upper.utf8)) { file in
            let path = file.path.description
            if let rule = rules.first(where: { Glob.matches($0.pattern, path) }), let action = rule.action {
                // A deletion of a volatile file is kept: the file is then simply gone.
                if file.status.kind == .characterDevice && file.status.rdev == 0 { return }
                if action != .drop && file.status.kind != .regular { return }
                targets.append((file.path, action))
            }
        }
        var changed: [String] = []
        var dropped: [RelativePath] = []
        for (path, action) in targets {
            if dropped.contains(where: { $0.isAncestor(of: path) }) { continue }
            let host = upper + "/" + path.description
            switch action {
            case .drop:
                try drop(path, upper: upper, below: below)
                dropped.append(path)
            case .empty:
                guard truncate(host, 0) == 0 else { throw LayersError.system(operation: "empty", path: host, errno: errno) }
            case .shadowDates:
                try pinShadowDates(host, epoch: epoch)
            }
            changed.append(path.absoluteDescription)
        }
        return changed
    }

    /// Removes `path` from the upper dir: a whiteout takes its place when the image below
    /// has it; in a folder, whiteouts (deletions the step made) stay.
    static func drop(_ path: RelativePath, upper: String, below: (RelativePath) -> Bool) throws {
        let host = Array(upper.utf8) + [0x2f] + path.bytes
        let status = try FileSystem.lstat(host)
        if status.kind == .characterDevice && status.rdev == 0 { return }
        if status.kind == .directory {
            for name in try FileSystem.directoryEntries(host) {
                try drop(path.appending(name), upper: upper, below: below)
            }
            // A folder the image below has stays (capture leaves it out unless a deletion
            // inside it needs it); one the step made goes.
            if !below(path) { try FileSystem.removeTree(bytes: host) }
            return
        }
        try FileSystem.removeTree(bytes: host)
        if below(path) {
            let made = FileSystem.withCString(host) { mknod($0, S_IFCHR, 0) }
            guard made == 0 else { throw LayersError.system(operation: "create a whiteout for", path: path.absoluteDescription, errno: errno) }
        }
    }

    /// The rule a path falls under, if any (for reports).
    public static func rule(for path: String) -> VolatileFile? {
        rules.first { Glob.matches($0.pattern, path) }
    }

    /// Field 3 of /etc/shadow (days since 1970 of the last password change) is clamped to
    /// the build day, as file times are: a tool writes today's date; an older date set on
    /// purpose stays.
    static func pinShadowDates(_ path: String, epoch: Int64) throws {
        let bytes = try FileSystem.readFile(path, limit: 16 << 20)
        let day = String(epoch / 86_400)
        var lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for index in lines.indices {
            var fields = lines[index].split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 3, let value = Int64(fields[2]), value > epoch / 86_400 else { continue }
            fields[2] = day
            lines[index] = fields.joined(separator: ":")
        }
        let status = try FileSystem.lstatPath(path)
        let rewritten = Array(lines.joined(separator: "\n").utf8)
        guard rewritten != bytes else { return }
        let file = try OpenFile(path: path, flags: O_WRONLY | O_TRUNC)
        try rewritten.withUnsafeBytes { try file.writeAll($0) }
        try file.close()
        var times = [timespec(tv_sec: Int(status.modificationSeconds), tv_nsec: Int(status.modificationNanoseconds)),
                     timespec(tv_sec: Int(status.modificationSeconds), tv_nsec: Int(status.modificationNanoseconds))]
        utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW)
    }
}
