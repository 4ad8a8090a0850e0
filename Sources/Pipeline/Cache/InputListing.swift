import Glibc
import Layers
import OCI

/// The files a copy step reads, as one canonical text whose sha256 enters the cache key:
/// a line per entry, in layer order, with what the layer will hold (the mode bake writes,
/// the content digest, the link target), never mtimes or owners.
///
///     bake-inputs 1
///     d 0755 assets
///     f 0644 <sha256 hex> <size> assets/site.css
///     l ../site.css link
///     h assets/site.css hard
///
/// Paths are percent-encoded below 0x21, at '%' and at 0x7f, so a line never breaks.
public struct InputListing: Sendable, Hashable {
    /// One line of the listing.
    public struct Entry: Sendable, Hashable {
        public var path: String
        public var line: String
    }

    public let entries: [Entry]
    public let digest: Digest

    static let header = "bake-inputs 1"

    init(entries: [Entry]) {
        self.entries = entries
        self.digest = Digest.sha256(Array(Self.render(entries).utf8))
    }

    /// The listing's text.
    public var text: String { Self.render(entries) }

    static func render(_ entries: [Entry]) -> String {
        ([header] + entries.map(\.line)).joined(separator: "\n") + "\n"
    }

    /// Parses a stored listing (for `bake why`).
    public static func parse(_ text: String) -> InputListing? {
        var lines = text.split(separator: "\n").map(String.init)
        guard lines.first == header else { return nil }
        lines.removeFirst()
        return InputListing(entries: lines.map { line in
            let fields = line.split(separator: " ")
            let path: String
            switch fields.first {
            case "f"?: path = fields.count > 4 ? String(fields[4]) : line
            case "h"?: path = fields.count > 2 ? String(fields[2]) : line
            default: path = fields.count > 2 ? String(fields[2]) : line
            }
            return Entry(path: path, line: line)
        })
    }

    /// Percent-encodes path bytes that would break a line or a field.
    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        for byte in bytes {
            if byte < 0x21 || byte == 0x25 || byte == 0x7f {
                out.append(0x25)
                out.append(contentsOf: Array(String(format2: byte).utf8))
            } else {
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// What changed from `old` to `self`, in order, as "SOURCE/PATH changed" (or added,
    /// removed), where `source` is the copy source as the stage file names it.
    public func changes(since old: InputListing, source: String) -> [String] {
        let before = Dictionary(old.entries.map { ($0.path, $0.line) }, uniquingKeysWith: { first, _ in first })
        let after = Dictionary(entries.map { ($0.path, $0.line) }, uniquingKeysWith: { first, _ in first })
        let trimmed = String(source.reversed().drop(while: { $0 == "/" }).reversed())
        func shown(_ path: String) -> String { path == "." ? source : (trimmed.isEmpty || trimmed == "." ? path : trimmed + "/" + path) }
        var result: [String] = []
        for entry in entries {
            if let previous = before[entry.path] {
                if previous != entry.line { result.append("\(shown(entry.path)) changed") }
            } else {
                result.append("\(shown(entry.path)) was added")
            }
        }
        for entry in old.entries where after[entry.path] == nil {
            result.append("\(shown(entry.path)) was removed")
        }
        return result
    }
}

extension String {
    init(format2 byte: UInt8) {
        let digits = Array("0123456789ABCDEF")
        self = String([digits[Int(byte >> 4)], digits[Int(byte & 0x0f)]])
    }
}

/// Hashes the inputs of copy steps, remembering each file's digest by its stat (path,
/// size, mtime and ctime in ns, inode) so that an unchanged file is never read again: a
/// no-op build of a large context only walks and stats it.
public final class InputHasher: @unchecked Sendable {
    private let store: ContentStore
    private let lock = ThreadLock()
    private var hashed = 0

    public init(store: ContentStore) {
        self.store = store
    }

    /// Files changed less than this many seconds before they are hashed are not remembered:
    /// on file systems whose clocks tick coarsely, a write in the same tick would keep the
    /// stat and hide the change. (Tests of the stat cache itself set it to 0.)
    var racySeconds: Int64 = 2

    /// How many files' contents this hasher has read (for tests of the stat cache).
    public var filesHashed: Int { lock.withLock { hashed } }

    var folder: String { store.root + "/cache/stat" }
    var listingsFolder: String { store.root + "/cache/inputs" }

    /// The listing of a copy source at `hostPath` (already resolved and checked to lie in
    /// the image folder). With `remember`, the stat cache and the listing are saved (call
    /// only under the store's exclusive lock); without, nothing is written.
    public func listing(of hostPath: String, remember: Bool) throws -> InputListing {
        let cachePath = folder + "/" + Digest.sha256(Array(hostPath.utf8)).encoded
        let known = lock.withLock { StatCache.load(cachePath) }
        var seen: [String: StatCache.Record] = [:]
        var changed = false
        let now = Int64(time(nil))

        func digest(of file: [UInt8], relative: String, status: FileStatus) throws -> Digest {
            if let record = known[relative], record.matches(status) {
                seen[relative] = record
                return record.digest
            }
            let computed = try FileSystem.sha256(ofFile: file, expecting: status)
            lock.withLock { hashed += 1 }
            changed = true
            // A file changed in the same instant as it was hashed could keep its stat: such
            // "racy" entries are not remembered, so they are hashed again next time.
            if status.modificationSeconds < now - racySeconds && status.changeSeconds < now - racySeconds {
                seen[relative] = StatCache.Record(status: status, digest: computed)
            }
            return computed
        }

        var entries: [InputListing.Entry] = []
        let root = try FileSystem.statPath(hostPath)
        if root.kind == .regular {
            let sha = try digest(of: Array(hostPath.utf8), relative: ".", status: root)
            entries.append(.init(path: ".", line: "f \(Self.mode(root)) \(sha.encoded) \(root.size) ."))
        } else {
            var firstPathOfInode: [UInt64: String] = [:]
            try DirectoryWalker.walk(Array(hostPath.utf8)) { file in
                let path = InputListing.encode(file.path.bytes)
                switch file.status.kind {
                case .directory:
                    entries.append(.init(path: path, line: "d 0755 \(path)"))
                case .regular:
                    if file.status.linkCount > 1, let first = firstPathOfInode[file.status.inode] {
                        entries.append(.init(path: path, line: "h \(first) \(path)"))
                        return
                    }
                    if file.status.linkCount > 1 { firstPathOfInode[file.status.inode] = path }
                    let sha = try digest(of: file.hostPath, relative: path, status: file.status)
                    entries.append(.init(path: path, line: "f \(Self.mode(file.status)) \(sha.encoded) \(file.status.size) \(path)"))
                case .symlink:
                    let target = try FileSystem.readSymlink(file.hostPath)
                    entries.append(.init(path: path, line: "l \(InputListing.encode(target)) \(path)"))
                default:
                    // Copying refuses these with the step's location; the listing just names them.
                    entries.append(.init(path: path, line: "x \(path)"))
                }
            }
        }
        let listing = InputListing(entries: entries)
        if remember {
            if changed || seen.count != known.count {
                try lock.withLock {
                    try FileSystem.createDirectory(folder)
                    try store.writeAtomically(cachePath, StatCache.render(seen))
                }
            }
            let saved = listingsFolder + "/" + listing.digest.encoded
            if (try? FileSystem.lstatIfExists(saved)) == nil {
                try FileSystem.createDirectory(listingsFolder)
                try store.writeAtomically(saved, Array(listing.text.utf8))
            }
        }
        return listing
    }

    /// A listing saved by an earlier build, if it is still there.
    public func savedListing(_ digest: Digest) -> InputListing? {
        guard let bytes = try? FileSystem.readFile(listingsFolder + "/" + digest.encoded, limit: 256 << 20) else { return nil }
        return InputListing.parse(String(decoding: bytes, as: UTF8.self))
    }

    /// The mode a copy writes for a file without `mode:`, as git records it.
    static func mode(_ status: FileStatus) -> String {
        status.ownerExecutable ? "0755" : "0644"
    }

}

/// The stat cache file: one line per file, `inode size mtime.s mtime.ns ctime.s ctime.ns sha256 path`.
enum StatCache {
    struct Record: Sendable {
        var inode: UInt64
        var size: Int64
        var mtime: (Int64, Int64)
        var ctime: (Int64, Int64)
        var digest: Digest

        init(status: FileStatus, digest: Digest) {
            inode = status.inode
            size = status.size
            mtime = (status.modificationSeconds, status.modificationNanoseconds)
            ctime = (status.changeSeconds, status.changeNanoseconds)
            self.digest = digest
        }

        init?(_ fields: [Substring]) {
            guard fields.count == 7, let inode = UInt64(fields[0]), let size = Int64(fields[1]),
                  let ms = Int64(fields[2]), let mn = Int64(fields[3]), let cs = Int64(fields[4]), let cn = Int64(fields[5]),
                  let digest = try? Digest(algorithm: .sha256, encoded: String(fields[6])) else { return nil }
            self.inode = inode
            self.size = size
            mtime = (ms, mn)
            ctime = (cs, cn)
            self.digest = digest
        }

        func matches(_ status: FileStatus) -> Bool {
            inode == status.inode && size == status.size
                && mtime == (status.modificationSeconds, status.modificationNanoseconds)
                && ctime == (status.changeSeconds, status.changeNanoseconds)
        }
    }

    static func load(_ path: String) -> [String: Record] {
        guard let bytes = try? FileSystem.readFile(path, limit: 1 << 30) else { return [:] }
        var records: [String: Record] = [:]
        for line in bytes.split(separator: 0x0a) {
            guard let space = line.indices.filter({ line[$0] == 0x20 }).dropFirst(6).first else { continue }
            let fields = line[line.startIndex..<space].split(separator: 0x20).map { Substring(decoding: $0, as: UTF8.self) }
            guard let record = Record(fields) else { continue }
            records[String(decoding: line[(space + 1)...], as: UTF8.self)] = record
        }
        return records
    }

    static func render(_ records: [String: Record]) -> [UInt8] {
        var out = ""
        for (path, r) in records.sorted(by: { $0.key < $1.key }) {
            out += "\(r.inode) \(r.size) \(r.mtime.0) \(r.mtime.1) \(r.ctime.0) \(r.ctime.1) \(r.digest.encoded) \(path)\n"
        }
        return Array(out.utf8)
    }
}

