import Glibc
import Layers

/// The volatile files package tools and shells write, which would make the same step give
/// different bytes twice. Before a step's upper dir becomes a layer, each rule is applied
/// to it: `drop` removes the path (a whiteout when the image below has it, so a stale copy
/// never shows through; deletions inside a dropped folder are kept), `empty` leaves an empty
/// file, `shadowDates` clamps the "last password change" days of /etc/shadow to the build day.
///
/// Patterns are paths relative to the image root: `*` matches within one name, `**`
/// matches any number of names.
public enum Normaliser {
    public enum Action: Sendable, Hashable {
        case drop
        case empty
        case shadowDates
    }

    public struct Rule: Sendable, Hashable {
        public let pattern: String
        public let action: Action
        /// Why the file varies, for the README and for `bake verify`'s report.
        public let reason: String
    }

    /// The documented list (README: "Normalisation").
    public static let rules: [Rule] = [
        Rule(pattern: "var/log/dpkg.log", action: .drop, reason: "dpkg's log of what it did, with times"),
        Rule(pattern: "var/log/apt/*", action: .drop, reason: "apt's history and terminal logs, with times"),
        Rule(pattern: "var/log/alternatives.log", action: .drop, reason: "update-alternatives' log, with times"),
        Rule(pattern: "var/log/bootstrap.log", action: .drop, reason: "the bootstrap log, with times"),
        Rule(pattern: "var/log/lastlog", action: .drop, reason: "login records"),
        Rule(pattern: "var/log/wtmp", action: .drop, reason: "login records"),
        Rule(pattern: "var/log/btmp", action: .drop, reason: "login records"),
        Rule(pattern: "var/log/faillog", action: .drop, reason: "login records"),
        // nginx-common makes these two empty, owned by www-data, for the service to append to:
        // the files stay, what nginx logged while a step ran it goes.
        Rule(pattern: "var/log/nginx/*", action: .empty, reason: "nginx's access and error logs, with times"),
        Rule(pattern: "var/cache/apt/**", action: .drop, reason: "apt's package caches (pkgcache.bin records times)"),
        Rule(pattern: "var/lib/apt/lists/**", action: .drop, reason: "downloaded package indexes"),
        Rule(pattern: "var/cache/debconf/*-old", action: .drop, reason: "debconf's backup copies"),
        Rule(pattern: "var/lib/dpkg/*-old", action: .drop, reason: "dpkg's backup copies"),
        Rule(pattern: "var/cache/ldconfig/aux-cache", action: .drop, reason: "ldconfig's cache of file times"),
        Rule(pattern: "etc/machine-id", action: .empty, reason: "a machine's identity, made at its first boot"),
        Rule(pattern: "var/lib/dbus/machine-id", action: .drop, reason: "a machine's identity"),
        Rule(pattern: "var/lib/systemd/random-seed", action: .drop, reason: "a random seed"),
        Rule(pattern: "**/__pycache__", action: .drop, reason: "Python byte code, which embeds source times"),
        Rule(pattern: "**/*.pyc", action: .drop, reason: "Python byte code, which embeds source times"),
        Rule(pattern: "var/cache/man/**", action: .drop, reason: "man-db's index, with times"),
        Rule(pattern: "var/cache/fontconfig/**", action: .drop, reason: "font caches, with times"),
        Rule(pattern: "etc/ssh/ssh_host_*", action: .drop, reason: "SSH host keys: each server must make its own"),
        Rule(pattern: "root/.cache/**", action: .drop, reason: "caches in root's home"),
        Rule(pattern: "root/.wget-hsts", action: .drop, reason: "wget's HSTS cache, with times"),
        Rule(pattern: "root/.bash_history", action: .drop, reason: "shell history"),
        Rule(pattern: "etc/passwd-", action: .drop, reason: "the backup useradd leaves"),
        Rule(pattern: "etc/group-", action: .drop, reason: "the backup useradd leaves"),
        Rule(pattern: "etc/shadow-", action: .drop, reason: "the backup useradd leaves"),
        Rule(pattern: "etc/gshadow-", action: .drop, reason: "the backup useradd leaves"),
        Rule(pattern: "etc/subuid-", action: .drop, reason: "the backup useradd leaves"),
        Rule(pattern: "etc/subgid-", action: .drop, reason: "the backup useradd leaves"),
        Rule(pattern: "etc/shadow", action: .shadowDates, reason: "the day a password last changed"),
        Rule(pattern: "var/tmp/**", action: .drop, reason: "temporary files"),
    ]

    /// Applies the rules to an upper dir; returns the paths it changed, in order. `below`
    /// says whether the image under the upper dir has a path.
    @discardableResult
    public static func apply(toUpper upper: String, epoch: Int64, below: (RelativePath) -> Bool = { _ in false }) throws -> [String] {
        var targets: [(RelativePath, Action)] = []
        try DirectoryWalker.walk(Array(upper.utf8)) { file in
            let path = file.path.description
            if let rule = rules.first(where: { matches($0.pattern, path) }) {
                // A deletion of a volatile file is kept: the file is then simply gone.
                if file.status.kind == .characterDevice && file.status.rdev == 0 { return }
                if rule.action != .drop && file.status.kind != .regular { return }
                targets.append((file.path, rule.action))
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
    public static func rule(for path: String) -> Rule? {
        rules.first { matches($0.pattern, path) }
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

    /// Glob match of a relative path: `*` within a name, `**` across names.
    static func matches(_ pattern: String, _ path: String) -> Bool {
        match(Array(pattern.split(separator: "/", omittingEmptySubsequences: false)), Array(path.split(separator: "/", omittingEmptySubsequences: false)))
    }

    private static func match(_ pattern: [Substring], _ path: [Substring]) -> Bool {
        guard let first = pattern.first else { return path.isEmpty }
        if first == "**" {
            let rest = Array(pattern.dropFirst())
            if rest.isEmpty { return !path.isEmpty }
            for start in 0...path.count where match(rest, Array(path[start...])) { return true }
            return false
        }
        guard let name = path.first, matchName(first, name) else { return false }
        return match(Array(pattern.dropFirst()), Array(path.dropFirst()))
    }

    private static func matchName(_ pattern: Substring, _ name: Substring) -> Bool {
        let p = Array(pattern), n = Array(name)
        var pi = 0, ni = 0, star = -1, mark = 0
        while ni < n.count {
            if pi < p.count && p[pi] == "*" {
                star = pi
                mark = ni
                pi += 1
            } else if pi < p.count && p[pi] == n[ni] {
                pi += 1
                ni += 1
            } else if star >= 0 {
                pi = star + 1
                mark += 1
                ni = mark
            } else {
                return false
            }
        }
        while pi < p.count && p[pi] == "*" { pi += 1 }
        return pi == p.count
    }
}
