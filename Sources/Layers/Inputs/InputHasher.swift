import Glibc
import OCI
import Synchronization

/// Hashes the inputs of copy steps, remembering each file's digest by its stat (path,
/// size, mtime and ctime in ns, inode) so that an unchanged file is never read again: a
/// no-op build of a large context only lists and stats it, on every core.
public final class InputHasher: Sendable {
    private let store: ContentStore
    private let threads = GzipSink.defaultThreads

    private struct State {
        /// How many files' contents were read.
        var hashed = 0
        var racySeconds: Int64 = 2
    }

    /// Guards the counters and serialises writes of the stat cache files.
    private let state = Mutex(State())

    public init(store: ContentStore) {
        self.store = store
    }

    /// Files changed less than this many seconds before they are hashed are not remembered:
    /// on file systems whose clocks tick coarsely, a write in the same tick would keep the
    /// stat and hide the change. (Tests of the stat cache itself set it to 0.)
    var racySeconds: Int64 {
        get { state.withLock { $0.racySeconds } }
        set { state.withLock { $0.racySeconds = newValue } }
    }

    /// How many files' contents this hasher has read (for tests of the stat cache).
    public var filesHashed: Int { state.withLock { $0.hashed } }

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
        if let remembered = state.withLock({ _ in Fingerprint.load(cachePath) }), remembered.fingerprint == fingerprint,
           let saved = savedListing(remembered.listing), saved.digest == remembered.listing {
            return saved
        }
        let known = state.withLock { _ in StatCache.load(cachePath) }
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
        state.withLock { $0.hashed += toHash.count }

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
                try state.withLock { _ in
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
                try state.withLock { _ in
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
