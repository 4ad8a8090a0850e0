import Glibc
import Layers

/// Makes a step's changes deterministic before they become a layer: each row of
/// `VolatileFiles.table` that has an action is applied to the upper dir. `drop` removes the
/// path (a whiteout when the image below has it, so a stale copy never shows through;
/// deletions inside a dropped folder are kept), `empty` leaves an empty file, `shadowDates`
/// clamps the "last password change" days of /etc/shadow to the build day,
/// `timestampBytecode` drops a .pyc only when it is timestamp-based (and then a
/// `__pycache__` folder the step made that is left empty).
public enum Normaliser {
    public enum Action: Sendable, Hashable {
        case drop
        case empty
        case shadowDates
        /// Python bytecode: a .pyc whose header says it is checked by the source's mtime
        /// (PEP 552 flags 0) is dropped; a hash-based one (flags bit 0) is deterministic
        /// and stays. A `__pycache__` folder goes when nothing is left in it.
        case timestampBytecode
    }

    /// The rows the normaliser applies (the table's rows with an action).
    public static let rules: [VolatileFile] = VolatileFiles.table.filter { $0.action != nil }

    /// Applies the rules to an upper dir; returns the paths it changed, in order. `below`
    /// says whether the image under the upper dir has a path.
    @discardableResult
    public static func apply(toUpper upper: String, epoch: Int64, below: (RelativePath) -> Bool = { _ in false }) throws -> [String] {
        var targets: [(RelativePath, Action)] = []
        var folders: [RelativePath] = []
        try DirectoryWalker.walk(Array(upper.utf8)) { file in
            let path = file.path.description
            if let rule = rules.first(where: { Glob.matches($0.pattern, path) }), let action = rule.action {
                // A deletion of a volatile file is kept: the file is then simply gone.
                if file.status.kind == .characterDevice && file.status.rdev == 0 { return }
                if action == .timestampBytecode {
                    if file.status.kind == .directory { folders.append(file.path); return }
                    // A file is bytecode only by its .pyc name (a file called __pycache__ is not).
                    guard file.status.kind == .regular, file.path.bytes.suffix(4).elementsEqual(".pyc".utf8) else { return }
                    if (try? isHashBased(Array(upper.utf8) + [0x2f] + file.path.bytes)) == true { return }
                    targets.append((file.path, .drop))
                    return
                }
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
                // By bytes: a name need not be UTF-8.
                let emptied = FileSystem.withCString(Array(upper.utf8) + [0x2f] + path.bytes) { truncate($0, 0) }
                guard emptied == 0 else { throw LayersError.system(operation: "empty", path: host, errno: errno) }
            case .shadowDates:
                try pinShadowDates(host, epoch: epoch)
            case .timestampBytecode:
                continue
            }
            changed.append(path.absoluteDescription)
        }
        // Deepest first, so a folder emptied of its folders is seen empty too.
        for folder in folders.reversed() where !below(folder) && !dropped.contains(where: { $0.isAncestor(of: folder) }) {
            let host = Array(upper.utf8) + [0x2f] + folder.bytes
            guard (try? FileSystem.directoryEntries(host))?.isEmpty == true else { continue }
            try FileSystem.removeTree(bytes: host)
            changed.append(folder.absoluteDescription)
        }
        return changed.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// True when the .pyc at `path` is hash-based (PEP 552): a Python 3.7+ magic number
    /// (3392 and up, below Python 2's 20121...) followed by `\r\n`, then a flags word with
    /// bit 0 set. Such a file holds the source's hash, not its mtime: the same source and
    /// Python give the same bytes.
    static func isHashBased(_ path: [UInt8]) throws -> Bool {
        let file = try OpenFile(bytes: path, flags: O_RDONLY | O_NOFOLLOW | O_NONBLOCK)
        var header = [UInt8](repeating: 0, count: 8)
        var count = 0
        while count < 8 {
            let read = try header.withUnsafeMutableBytes { try file.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[count...])) }
            if read == 0 { break }
            count += read
        }
        guard count == 8, header[2] == 0x0d, header[3] == 0x0a else { return false }
        let magic = Int(header[0]) | Int(header[1]) << 8
        let flags = UInt32(header[4]) | UInt32(header[5]) << 8 | UInt32(header[6]) << 16 | UInt32(header[7]) << 24
        return (3392..<20121).contains(magic) && flags & 1 == 1
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
