import Glibc
import Layers
import OCI
import Provisioners

/// Runs `run` and `apt` steps (and checks) in a sandbox on an image's layers, and turns
/// what a step changed into its layer.
struct RunStepExecutor {
    let store: ContentStore
    let reporter: BuildReporter
    let secrets: [String: [UInt8]]

    /// The environment every command gets, after the image's own: fixed so that no step
    /// sees the host's (DESIGN.md, determinism rules).
    static func environment(image: [String], home: String, epoch: Int64, extra: [String] = []) -> [String] {
        var entries: [(String, String)] = image.map { entry in
            let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
        }
        let fixed: [(String, String)] = [
            ("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
            ("HOME", home),
            ("TZ", "UTC"),
            ("LC_ALL", "C.UTF-8"),
            ("LANG", "C.UTF-8"),
            // Tools that honour it (dpkg, gzip, python...) write it instead of the clock.
            ("SOURCE_DATE_EPOCH", String(epoch)),
        ]
        for (key, value) in fixed + extra.map({ entry in
            let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
        }) {
            entries.removeAll { $0.0 == key }
            entries.append((key, value))
        }
        return entries.map { "\($0.0)=\($0.1)" }
    }

    /// The mount points a sandbox creates when the image lacks them; removed from the upper
    /// dir afterwards unless they were there before.
    static let mountPoints = ["proc", "dev", "tmp", "run/secrets", "etc/resolv.conf", "run"]

    /// What running a command left.
    struct Outcome {
        /// The machine; its upper dir holds the changes. The caller discards it.
        let machine: OverlayMachine
        /// The command's exit status.
        let status: Int32
        /// Its last lines of output.
        let tail: [String]
        /// The unpacked lower dirs, bottom first (index = layer index).
        let unpacked: [String]
    }

    /// Runs `script` with /bin/sh -eu -c on the image made of `layers`, in a fresh machine.
    /// `observe` sees every line of output (after secrets are masked).
    func run(
        script: String, label: String, image: String, layers: [Descriptor], diffIDs: [Digest], tree: ImageFilesystem,
        user: UserIdentity, home: String, workdir: String, environment: [String], network: Bool, secretIDs: [String],
        observe: (@Sendable (String) -> Void)? = nil
    ) throws -> Outcome {
        guard let shell = tree.entry(at: try tree.resolve(try RelativePath("bin/sh"), followFinal: true)),
              shell.kind != .directory else {
            throw StepInputError("a command needs /bin/sh in the image, and the image below has none")
        }
        let reporter = self.reporter
        let unpacked = try UnpackedLayers(store: store).ensure(layers: layers, diffIDs: diffIDs) { reporter.report(.warning($0)) }
        try FileSystem.createDirectory(store.temporaryPath)
        let scratch = try Self.scratchFolder(in: store.temporaryPath)
        let machine = try OverlayMachine(lowers: unpacked.reversed(), scratch: scratch)
        let stepSecrets = secretIDs.compactMap { id in secrets[id].map { Secret(id: id, value: $0) } }
        let masks = Self.masks(for: stepSecrets)
        let tail = OutputTail()
        let command = Command(arguments: ["/bin/sh", "-eu", "-c", script], environment: environment,
                              workingDirectory: workdir, user: user, network: network, secrets: stepSecrets)
        do {
            let status = try machine.run(command, output: .lines { raw in
                // Secret values never reach a log, even when a step prints them.
                var line = raw
                for value in masks { line = line.replacingOccurrences(of: value, with: "****") }
                tail.add(line)
                observe?(line)
                reporter.report(.output(image: image, label: label, line: line))
            })
            return Outcome(machine: machine, status: status, tail: tail.lines, unpacked: unpacked)
        } catch {
            machine.discard()
            throw error
        }
    }

    /// What to hide in output lines: each secret's value, and each line of a value that
    /// spans lines (a PEM key) or ends with a newline, longest first so a whole value is
    /// masked before its parts.
    static func masks(for secrets: [Secret]) -> [String] {
        var masks: Set<String> = []
        for secret in secrets {
            let value = String(decoding: secret.value, as: UTF8.self)
            // (isNewline, not "\n": Swift reads "\r\n" as one character.)
            let lines = value.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.isEmpty }
            if lines.count == 1 {
                masks.insert(lines[0])
            } else {
                // Shorter pieces would blank out ordinary words without hiding anything.
                for line in lines where line.count >= 4 { masks.insert(line) }
            }
        }
        return masks.sorted { ($0.count, $0) > ($1.count, $1) }
    }

    /// Removes the sandbox's mount points from the upper dir when the image below had none.
    static func removeMountPoints(upper: String, below tree: ImageFilesystem) {
        for point in mountPoints {
            guard let path = try? RelativePath(point), tree.entry(at: path) == nil else { continue }
            let host = upper + "/" + point
            guard let status = try? FileSystem.lstatIfExists(host) else { continue }
            if status.kind == .directory {
                rmdir(host)  // only when empty: a step may have put something real there
            } else if status.kind == .regular && status.size == 0 {
                unlink(host)
            }
        }
    }

    /// `STORE/tmp/step-XXXXXX`, a name the machine makes its folders in.
    static func scratchFolder(in folder: String) throws -> String {
        let path = try FileSystem.makeTemporaryDirectory(in: folder, prefix: "step")
        rmdir(path)
        return path
    }

    /// Resolves `user:` (a name, uid, name:group or uid:gid) in the image's /etc/passwd and
    /// /etc/group; returns the identity and its home.
    static func user(_ spec: String?, tree: ImageFilesystem, layers: [Descriptor], store: ContentStore) throws -> (UserIdentity, String) {
        guard let spec, !spec.isEmpty else { return (.root, "/root") }
        let passwd = try store.readFile(try RelativePath("etc/passwd"), in: tree, layers: layers)
        let group = try store.readFile(try RelativePath("etc/group"), in: tree, layers: layers)
        let database = UserDatabase(passwd: passwd, group: group)
        let parts = spec.split(separator: ":", maxSplits: 1).map(String.init)
        var uid: UInt32
        var gid: UInt32
        var home = "/"
        if let number = UInt32(parts[0]) {
            uid = number
            gid = database.users.values.first { $0.uid == number }?.gid ?? number
        } else {
            guard let entry = database.users[parts[0]] else {
                throw StepInputError("user '\(parts[0])' is not in the image's /etc/passwd")
            }
            (uid, gid) = (entry.uid, entry.gid)
            home = database.homes[parts[0]] ?? "/"
        }
        if uid == 0 { home = "/root" }
        if parts.count == 2 {
            if let number = UInt32(parts[1]) {
                gid = number
            } else {
                guard let number = database.groups[parts[1]] else {
                    throw StepInputError("group '\(parts[1])' is not in the image's /etc/group")
                }
                gid = number
            }
        }
        let name = parts[0]
        let supplementary = database.members.filter { $0.value.contains(name) }.compactMap { database.groups[$0.key] }.sorted()
        return (UserIdentity(uid: uid, gid: gid, groups: supplementary), home)
    }
}

/// Lines a command printed after a marker line (how an apt step reports package versions).
final class MarkedLines: @unchecked Sendable {
    private let lock = Lock()
    private let marker: String
    private var seen = false
    private var collected: [String] = []

    init(after marker: String) {
        self.marker = marker
    }

    func add(_ line: String) {
        lock.withLock {
            if seen {
                if !line.isEmpty { collected.append(line) }
            } else if line == marker {
                seen = true
            }
        }
    }

    var lines: [String] { lock.withLock { collected } }
}

/// The last lines of a command's output, kept for the error message of a failing step.
final class OutputTail: @unchecked Sendable {
    private let lock = Lock()
    private var kept: [String] = []

    func add(_ line: String) {
        lock.withLock {
            kept.append(line)
            if kept.count > 40 { kept.removeFirst(kept.count - 40) }
        }
    }

    var lines: [String] { lock.withLock { kept } }
}
