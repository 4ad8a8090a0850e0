import Glibc
import Layers
import OCI
import Provisioners

/// The other machine `bake verify` rebuilds on, made unlike the usual host in every way a
/// build must not depend on: another folder, deeper, with another name (the project a copy
/// with other file times and creation order), another store, hostname (and /etc/hostname),
/// /etc/resolv.conf bytes, time zone, locale, umask, thread and job counts.
struct VerifyEnvironment {
    /// The hostname, locale and time zone of the verification build: all unlike a usual host.
    static let hostname = "bake-verify-elsewhere"
    static let locale = "tr_TR.UTF-8"
    static let timeZone = "Pacific/Kiritimati"

    /// The verification folder (removed afterwards unless kept).
    let folder: String
    /// The umask, threads and jobs of the rebuild.
    let umask: mode_t
    let threads: Int
    let jobs: Int

    /// The project copy.
    var project: String { folder + "/elsewhere/another-project" }
    /// The rebuild's store.
    var store: String { folder + "/store" }

    /// A fresh verification folder under `temporary` (TMPDIR or /var/tmp).
    static func make(under temporary: String) throws -> VerifyEnvironment {
        let folder = try FileSystem.makeTemporaryDirectory(in: temporary, prefix: "bake-verify", mode: 0o755)
        let original = Glibc.umask(0o022)
        Glibc.umask(original)
        let cores = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        return VerifyEnvironment(folder: folder, umask: original == 0o022 ? 0o077 : 0o022,
                                 threads: cores == 1 ? 3 : 1, jobs: cores == 1 ? 2 : 1)
    }

    /// Copies `images/` (and bases read from files of the project outside it) into the
    /// project copy, with `pins` as its bake.lock.
    func copy(_ project: Project, order: [String], pins: LockFile) throws {
        try FileSystem.createDirectory(folder + "/elsewhere")
        try FileSystem.createDirectory(folder + "/tmp", mode: 0o1777)
        _ = chmod(folder + "/tmp", 0o1777)
        try FileSystem.createDirectory(self.project)
        try ContextCopy.copy(project.directory + "/images", to: self.project + "/images")
        try copyExternalBases(project, order: order)
        try pins.save(directory: self.project)
    }

    /// Bases read from files outside `images/` (a rootfs tarball, an OCI layout) are copied
    /// to the same place relative to the project copy.
    private func copyExternalBases(_ project: Project, order: [String]) throws {
        for name in order {
            let stage = project.stages[name]!
            guard case .source(let source) = stage.base else { continue }
            for path in source.hostPaths where !path.hasPrefix("/") {
                let host = Workspace.absolute(stage.directory + "/" + path, relativeTo: "/")
                if host.hasPrefix(project.directory + "/images/") { continue }
                guard host.hasPrefix(project.directory + "/") else {
                    throw PipelineError.badInput(
                        "\(stage.baseLocation): verify copies the project elsewhere, and the base path '\(path)' leads out of the project; give it as an absolute path")
                }
                let destination = self.project + "/" + String(host.dropFirst(project.directory.count + 1))
                try FileSystem.createDirectory(FileSystem.parent(of: destination))
                try ContextCopy.copy(host, to: destination)
            }
        }
    }

    /// bake's environment as the rebuild gets it.
    func environment(from original: [String: String], sourceDateEpoch: Int64?, metadata: SourceMetadata) -> [String: String] {
        var environment = original
        environment["TZ"] = Self.timeZone
        environment["LC_ALL"] = Self.locale
        environment["LANG"] = Self.locale
        environment["TMPDIR"] = folder + "/tmp"
        environment["SOURCE_DATE_EPOCH"] = sourceDateEpoch.map(String.init)
        for (key, value) in metadata.environment { environment[key] = value }
        return environment
    }

    /// What differs from the original build, for the report.
    var changes: [String: String] {
        [
            "project": project, "store": store, "TZ": Self.timeZone, "LC_ALL": Self.locale, "hostname": Self.hostname,
            "host files": "/etc/hostname and /etc/resolv.conf with other bytes",
            "umask": Octal.mode(UInt32(umask)), "threads": String(threads), "jobs": String(jobs),
            "mtimes": "from 2001-09-09, 61 s apart", "order": "context files created in reverse order",
        ]
    }

    /// The line printed before the rebuild starts.
    func announcement(_ order: [String]) -> String {
        "verify: rebuilding \(order.joined(separator: ", ")) from nothing in \(project) (store \(store)) with TZ=\(Self.timeZone), LC_ALL=\(Self.locale), hostname \(Self.hostname) (also in /etc/hostname), another /etc/resolv.conf, umask \(Octal.mode(UInt32(umask))), --threads \(threads), --jobs \(jobs), other file times and creation order"
    }

    /// Writes the replacement host files into the folder; returns how the rebuild sees them.
    func hostFileBinds() throws -> [ChangedHostProcess.FileBind] {
        try FileSystem.createDirectory(folder + "/host")
        return try Self.hostFileReplacements().enumerated().map { index, replacement in
            let source = folder + "/host/\(index)-" + (replacement.target.split(separator: "/").last.map(String.init) ?? "file")
            let file = try OpenFile(path: source, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
            try replacement.contents.withUnsafeBytes { try file.writeAll($0) }
            try file.close()
            return ChangedHostProcess.FileBind(source: source, target: replacement.target)
        }
    }

    /// A host file and the bytes the rebuild sees in its place.
    struct HostFileReplacement {
        var target: String
        var contents: [UInt8]
    }

    /// The host's files that the verification build sees with other bytes, and what it
    /// sees: tools that run on the host (mmdebstrap) may copy them into an image. The
    /// replacement resolv.conf names the same name servers, so the network still works.
    static func hostFileReplacements() -> [HostFileReplacement] {
        var replacements = [HostFileReplacement(target: "/etc/hostname", contents: Array((hostname + "\n").utf8))]
        if var resolv = try? FileSystem.readFile("/etc/resolv.conf", limit: 1 << 20) {
            if let last = resolv.last, last != 0x0a { resolv.append(0x0a) }
            resolv += Array("# bake verify: the host's name servers, in another file\n".utf8)
            replacements.append(HostFileReplacement(target: "/etc/resolv.conf", contents: resolv))
        }
        return replacements
    }
}
