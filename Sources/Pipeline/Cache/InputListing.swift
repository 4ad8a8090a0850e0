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
/// Paths are percent-encoded below 0x21, at '%' and at 0x7f, so a line never breaks, and
/// above 0x7f in names that are not UTF-8, so two names never give one line.
public struct InputListing: Sendable, Hashable {
    /// One line of the listing, with the path it is about.
    public struct Entry: Sendable, Hashable {
        public var path: String
        public var line: String
    }

    /// The listing's bytes.
    public let text: [UInt8]
    public let digest: Digest

    static let header = "bake-inputs 1"

    init(text: [UInt8]) {
        self.text = text
        self.digest = Digest.sha256(text)
    }

    /// Parses a stored listing (for `bake why`).
    public static func parse(_ text: String) -> InputListing? {
        guard text.hasPrefix(header + "\n") else { return nil }
        return InputListing(text: Array(text.utf8))
    }

    /// The lines after the header.
    public var entries: [Entry] {
        String(decoding: text, as: UTF8.self).split(separator: "\n").dropFirst().map { line in
            let fields = line.split(separator: " ")
            let index: Int
            switch fields.first {
            case "f"?: index = 4
            case "x"?: index = 1
            default: index = 2
            }
            return Entry(path: index < fields.count ? String(fields[index]) : String(line), line: String(line))
        }
    }

    /// Percent-encodes path bytes that would break a line or a field, losslessly: names
    /// are bytes, and two different names must never give the same text. A UTF-8 name
    /// keeps its characters; in a name that is not UTF-8 every byte above 0x7f is encoded
    /// too (decoding it as text would turn every invalid byte into the same U+FFFD). '%' is
    /// always encoded, so the text decodes back to exactly the bytes it came from.
    static func encode(_ bytes: [UInt8]) -> String {
        let isText = String(validating: bytes, as: UTF8.self) != nil
        func needsEncoding(_ byte: UInt8) -> Bool {
            byte < 0x21 || byte == 0x25 || byte == 0x7f || (!isText && byte >= 0x80)
        }
        guard bytes.contains(where: needsEncoding) else {
            return String(decoding: bytes, as: UTF8.self)
        }
        var out: [UInt8] = []
        for byte in bytes {
            if needsEncoding(byte) {
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
        let oldEntries = old.entries
        let newEntries = entries
        let before = Dictionary(oldEntries.map { ($0.path, $0.line) }, uniquingKeysWith: { first, _ in first })
        let after = Dictionary(newEntries.map { ($0.path, $0.line) }, uniquingKeysWith: { first, _ in first })
        let trimmed = String(source.reversed().drop(while: { $0 == "/" }).reversed())
        func shown(_ path: String) -> String { path == "." ? source : (trimmed.isEmpty || trimmed == "." ? path : trimmed + "/" + path) }
        var result: [String] = []
        for entry in newEntries {
            if let previous = before[entry.path] {
                if previous != entry.line { result.append("\(shown(entry.path)) changed") }
            } else {
                result.append("\(shown(entry.path)) was added")
            }
        }
        for entry in oldEntries where after[entry.path] == nil {
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
/// no-op build of a large context only lists and stats it, on every core.
public final class InputHasher: @unchecked Sendable {
    private let store: ContentStore
    private let lock = Lock()
    private var hashed = 0
    private let threads = GzipSink.defaultThreads

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
        let now = Int64(time(nil))
        let racy = racySeconds

        // What to list: (relative path, its encoding, its stat), in canonical order.
        var items: [(path: [UInt8], encoded: String, status: FileStatus)] = []
        let root = try FileSystem.statPath(hostPath)
        let fingerprint: Digest
        var tree: ScannedTree?
        if root.kind != .directory {
            // A file, or something copying refuses (a named pipe, a device) with the step's
            // location: never opened here, only listed.
            fingerprint = ScannedTree.fingerprint(file: root)
        } else {
            tree = try TreeScanner.scan(hostPath, threads: threads)
            fingerprint = tree!.fingerprint()
        }
        // Nothing was added, removed or touched since a build remembered this source: its
        // listing is the one saved then, without looking at a single file's digest.
        if let remembered = lock.withLock({ Fingerprint.load(cachePath) }), remembered.fingerprint == fingerprint,
           let saved = savedListing(remembered.listing), saved.digest == remembered.listing {
            return saved
        }
        let known = lock.withLock { StatCache.load(cachePath) }
        var seen: [String: StatCache.Record] = [:]
        seen.reserveCapacity(known.count)
        if let tree {
            items.reserveCapacity(tree.count)
            tree.visit { path, status in items.append((path, InputListing.encode(path), status)) }
        } else {
            items.append(([], ".", root))
        }
        let hostBytes = Array(hostPath.utf8)
        func host(_ path: [UInt8]) -> [UInt8] { path.isEmpty ? hostBytes : hostBytes + [0x2f] + path }

        // Digests from the stat cache; what changed is hashed, on every core.
        var digests = [Digest?](repeating: nil, count: items.count)
        var toHash: [Int] = []
        var anyRacy = false
        for (index, item) in items.enumerated() where item.status.kind == .regular {
            if let record = known[item.encoded], record.matches(item.status) {
                digests[index] = record.digest
                seen[item.encoded] = record
            } else {
                toHash.append(index)
            }
        }
        let work = toHash.map { (host(items[$0].path), items[$0].status) }
        let computed = try Parallel.map(work.count, threads: threads) { index in
            try FileSystem.sha256(ofFile: work[index].0, expecting: work[index].1)
        }
        for (position, index) in toHash.enumerated() {
            digests[index] = computed[position]
            let status = items[index].status
            // A file changed in the same instant as it was hashed could keep its stat: such
            // "racy" entries are not remembered, so they are hashed again next time.
            if status.modificationSeconds < now - racy && status.changeSeconds < now - racy {
                seen[items[index].encoded] = StatCache.Record(status: status, digest: computed[position])
            } else {
                anyRacy = true
            }
        }
        lock.withLock { hashed += toHash.count }

        var text: [UInt8] = Array((InputListing.header + "\n").utf8)
        text.reserveCapacity(items.count * 100)
        var firstPathOfInode: [UInt64: String] = [:]
        for (index, item) in items.enumerated() {
            switch item.status.kind {
            case .directory:
                text += "d 0755 \(item.encoded)\n".utf8
            case .regular:
                if item.status.linkCount > 1, let first = firstPathOfInode[item.status.inode] {
                    text += "h \(first) \(item.encoded)\n".utf8
                    continue
                }
                if item.status.linkCount > 1 { firstPathOfInode[item.status.inode] = item.encoded }
                text += "f \(Self.mode(item.status)) \(digests[index]!.encoded) \(item.status.size) \(item.encoded)\n".utf8
            case .symlink:
                let target = try FileSystem.readSymlink(host(item.path))
                text += "l \(InputListing.encode(target)) \(item.encoded)\n".utf8
            default:
                // Copying refuses these with the step's location; the listing just names them.
                text += "x \(item.encoded)\n".utf8
            }
        }
        let listing = InputListing(text: text)
        if remember {
            if !toHash.isEmpty || seen.count != known.count {
                try lock.withLock {
                    try FileSystem.createDirectory(folder)
                    try store.writeAtomically(cachePath, StatCache.render(seen))
                }
            }
            let saved = listingsFolder + "/" + listing.digest.encoded
            if (try? FileSystem.lstatIfExists(saved)) == nil {
                try FileSystem.createDirectory(listingsFolder)
                try store.writeAtomically(saved, listing.text)
            }
            // Only a scan with no racy file may stand for its listing next time. Folders and
            // symlinks changed in the racy window count too: their times are in the fingerprint.
            let settled = !anyRacy && items.allSatisfy { $0.status.modificationSeconds < now - racy && $0.status.changeSeconds < now - racy }
            if settled {
                try lock.withLock {
                    try FileSystem.createDirectory(folder)
                    try store.writeAtomically(cachePath + ".fingerprint", Fingerprint(fingerprint: fingerprint, listing: listing.digest).bytes)
                }
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

/// `STORE/cache/stat/<source>.fingerprint`: the fingerprint of a source's last settled
/// scan and the digest of the listing it gave.
struct Fingerprint {
    var fingerprint: Digest
    var listing: Digest

    var bytes: [UInt8] { Array("\(fingerprint.encoded) \(listing.encoded)\n".utf8) }

    static func load(_ cachePath: String) -> Fingerprint? {
        guard let bytes = try? FileSystem.readFile(cachePath + ".fingerprint", limit: 4096) else { return nil }
        let fields = String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard fields.count == 2,
              let fingerprint = try? Digest(algorithm: .sha256, encoded: String(fields[0])),
              let listing = try? Digest(algorithm: .sha256, encoded: String(fields[1])) else { return nil }
        return Fingerprint(fingerprint: fingerprint, listing: listing)
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

        init(inode: UInt64, size: Int64, mtime: (Int64, Int64), ctime: (Int64, Int64), digest: Digest) {
            self.inode = inode
            self.size = size
            self.mtime = mtime
            self.ctime = ctime
            self.digest = digest
        }

        func matches(_ status: FileStatus) -> Bool {
            inode == status.inode && size == status.size
                && mtime == (status.modificationSeconds, status.modificationNanoseconds)
                && ctime == (status.changeSeconds, status.changeNanoseconds)
        }
    }

    /// Parses the file in one pass over its bytes (it can have a line per file of a large
    /// context, and is read on every build). Malformed lines are skipped: they only cost a hash.
    static func load(_ path: String) -> [String: Record] {
        guard let bytes = try? FileSystem.readFile(path, limit: 1 << 30) else { return [:] }
        var records: [String: Record] = [:]
        records.reserveCapacity(bytes.count / 100)
        bytes.withUnsafeBufferPointer { buffer in
            var index = 0
            let end = buffer.count
            func number() -> Int64? {
                var value: Int64 = 0
                var digits = 0
                while index < end, buffer[index] >= 0x30, buffer[index] <= 0x39 {
                    value = value &* 10 &+ Int64(buffer[index] - 0x30)
                    index += 1
                    digits += 1
                }
                guard digits > 0, digits < 19, index < end, buffer[index] == 0x20 else { return nil }
                index += 1
                return value
            }
            while index < end {
                defer {
                    while index < end, buffer[index] != 0x0a { index += 1 }
                    index += 1
                }
                guard let inode = number(), let size = number(), let ms = number(), let mn = number(),
                      let cs = number(), let cn = number(), index + 65 <= end, buffer[index + 64] == 0x20 else { continue }
                let hex = String(decoding: UnsafeBufferPointer(rebasing: buffer[index..<(index + 64)]), as: UTF8.self)
                guard let digest = try? Digest(algorithm: .sha256, encoded: hex) else { continue }
                index += 65
                var pathEnd = index
                while pathEnd < end, buffer[pathEnd] != 0x0a { pathEnd += 1 }
                let name = String(decoding: UnsafeBufferPointer(rebasing: buffer[index..<pathEnd]), as: UTF8.self)
                index = pathEnd
                records[name] = Record(inode: UInt64(inode), size: size, mtime: (ms, mn), ctime: (cs, cn), digest: digest)
            }
        }
        return records
    }

    static func render(_ records: [String: Record]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(records.count * 120)
        for (path, r) in records.sorted(by: { $0.key < $1.key }) {
            out.append(contentsOf: "\(r.inode) \(r.size) \(r.mtime.0) \(r.mtime.1) \(r.ctime.0) \(r.ctime.1) \(r.digest.encoded) \(path)\n".utf8)
        }
        return out
    }
}
