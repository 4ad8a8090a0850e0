import Glibc
import Layers
import OCI
import Provisioners

/// The file-level difference of two layers: what `bake verify` prints when a rebuilt layer
/// does not have the digest of the first build.
///
/// Memory stays bounded whatever the size of the layers: the first pass streams both
/// layers and keeps each path's metadata and content digest, never its content (and of the
/// second layer only what differs from the first). Only the small text files among the
/// differences returned are read again, in a second pass that stops once it has them.
public enum LayerDifference {
    /// A layer to compare: the store holding it, its descriptor and its diffID.
    public struct Layer: Sendable {
        public var store: ContentStore
        public var layer: Descriptor
        public var diffID: Digest

        public init(store: ContentStore, layer: Descriptor, diffID: Digest) {
            self.store = store
            self.layer = layer
            self.diffID = diffID
        }
    }

    /// Most differences listed by default: enough to see a pattern, few enough to read.
    public static let defaultLimit = 200
    /// Largest file whose content is shown and diffed (64 KiB): a config file or a stamp,
    /// not a database; larger files are described by their digests.
    public static let textLimit = 64 << 10

    /// Every path that differs, sorted as a layer's entries are (component by component, by
    /// the bytes of the names). `limit` caps the list; `total` counts every difference.
    ///
    /// Both layers are verified against their digests and diffIDs as they are read. Layers
    /// with the same diffID hold the same bytes: they are not read at all.
    public static func compare(_ before: Layer, _ after: Layer, limit: Int = defaultLimit) throws
        -> (differences: [FileDifference], total: Int)
    {
        if before.diffID == after.diffID { return ([], 0) }

        var old: [RelativePath: Summary] = [:]
        try scan(before) { path, summary in old[path] = summary }  // a later entry replaces an earlier one
        // Entries of the second layer that differ from the first or are not in it.
        var differing: [RelativePath: Summary] = [:]
        try scan(after) { path, summary in
            guard let previous = old[path] else {
                differing[path] = summary
                return
            }
            old[path]?.seenAfter = true
            if previous.sameAttributes(summary) {
                differing.removeValue(forKey: path)
            } else {
                differing[path] = summary
            }
        }

        var pairs: [(path: RelativePath, before: Summary?, after: Summary?)] = []
        for (path, summary) in old where !summary.seenAfter { pairs.append((path, summary, nil)) }
        for (path, summary) in differing { pairs.append((path, old[path], summary)) }
        pairs.sort { $0.path < $1.path }
        let total = pairs.count
        let shown = pairs.prefix(max(0, limit))

        // Second pass: the content of the small text files among the differences shown.
        var wantedBefore: [RelativePath: Digest] = [:]
        var wantedAfter: [RelativePath: Digest] = [:]
        for pair in shown {
            let oldText = pair.before?.textDigest
            let newText = pair.after?.textDigest
            switch (pair.before, pair.after) {
            case (nil, _): if let newText { wantedAfter[pair.path] = newText }
            case (_, nil): if let oldText { wantedBefore[pair.path] = oldText }
            default:
                if let oldText, let newText, oldText != newText {
                    wantedBefore[pair.path] = oldText
                    wantedAfter[pair.path] = newText
                }
            }
        }
        let oldContents = try readTexts(wantedBefore, from: before)
        let newContents = try readTexts(wantedAfter, from: after)

        let differences = shown.map { pair in
            let path = "/" + pair.path.escapedDescription
            let oldText = oldContents[pair.path]
            let newText = newContents[pair.path]
            var difference = FileDifference(
                path: path,
                change: pair.before == nil ? .added : (pair.after == nil ? .removed : .changed),
                attributes: Summary.changes(pair.before, pair.after),
                before: oldText, after: newText
            )
            if let oldText, let newText {
                difference.diff = TextDiff.unified(oldText, newText, path: path)
            }
            return difference
        }
        return (KnownCause.annotate(differences), total)
    }

    /// Writes the content of the regular file `path` of a layer to `destination` (for
    /// diffoscope); false if it is not a regular file there. A hard link is followed to the
    /// file it links to. The layer is read to its end, so its digest is verified before the
    /// file is put in place; `destination` is replaced atomically.
    public static func extractFile(
        _ path: String, from store: ContentStore, layer: Descriptor, diffID: Digest, to destination: String
    ) throws -> Bool {
        var wanted = try RelativePath(path, allowAbsolute: true)
        // Hard links to hard links are rare; a bound keeps a malformed chain from looping.
        for _ in 0..<8 {
            switch try extractPass(wanted, from: store, layer: layer, diffID: diffID, to: destination) {
            case .written: return true
            case .notRegular: return false
            case .hardlink(let target): wanted = target
            }
        }
        return false
    }

    // MARK: - First pass

    /// What the first pass keeps of an entry: its metadata and its content's digest.
    struct Summary {
        var kind: TarEntry.Kind
        var mode: UInt32
        var uid: UInt32
        var gid: UInt32
        var mtime: Int64
        var xattrs: [String: [UInt8]]
        /// sha256 of a regular file's content.
        var content: Digest?
        /// True for a regular file of at most `textLimit` bytes, valid UTF-8 without NUL.
        var isText: Bool
        /// Set on a first-layer entry when the second layer has the path too.
        var seenAfter = false

        /// The content digest of a small text file, nil for anything else.
        var textDigest: Digest? { isText ? content : nil }

        /// True when every compared attribute is equal (`seenAfter` is bookkeeping).
        func sameAttributes(_ other: Summary) -> Bool {
            kind == other.kind && mode == other.mode && uid == other.uid && gid == other.gid
                && mtime == other.mtime && content == other.content && xattrs == other.xattrs
        }

        /// The attributes that differ, in the fixed order; a side without the path or
        /// without an attribute shows `(none)`.
        static func changes(_ before: Summary?, _ after: Summary?) -> [AttributeChange] {
            let old = before?.attributes() ?? [:]
            let new = after?.attributes() ?? [:]
            let xattrNames = Set((before?.xattrs ?? [:]).keys).union((after?.xattrs ?? [:]).keys)
                .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            let names = ["type", "content sha256", "size", "mode", "uid", "gid", "mtime", "link target", "device"]
                + xattrNames.map { "xattr " + $0 }
            return names.compactMap { name in
                let oldValue = old[name]
                let newValue = new[name]
                guard oldValue != newValue else { return nil }
                return AttributeChange(attribute: name, before: oldValue ?? "(none)", after: newValue ?? "(none)")
            }
        }

        /// Every attribute this entry has, as shown to users.
        func attributes() -> [String: String] {
            var result: [String: String] = [
                "mode": Self.octal(mode),
                "uid": String(uid),
                "gid": String(gid),
                "mtime": "\(mtime) (\(Timestamp.rfc3339(mtime)))",
            ]
            switch kind {
            case .regular(let size):
                result["type"] = "file"
                result["size"] = String(size)
                if let content { result["content sha256"] = content.encoded }
            case .directory:
                result["type"] = "directory"
            case .symlink(let target):
                result["type"] = "symlink"
                result["link target"] = RelativePath.escaped(target)
            case .hardlink(let target):
                result["type"] = "hardlink"
                result["link target"] = "/" + target.escapedDescription
            case .characterDevice(let major, let minor):
                result["type"] = "character device"
                result["device"] = "\(major),\(minor)"
            case .blockDevice(let major, let minor):
                result["type"] = "block device"
                result["device"] = "\(major),\(minor)"
            case .fifo:
                result["type"] = "fifo"
            }
            for (name, value) in xattrs { result["xattr " + name] = Self.display(value) }
            return result
        }

        /// Four octal digits, as `ls` users read modes (`0644`, `4755`).
        static func octal(_ mode: UInt32) -> String { Octal.mode(mode & 0o7777) }

        /// An xattr value as text when it is printable UTF-8, else as `0x` and hex.
        static func display(_ value: [UInt8]) -> String {
            if let text = String(validating: value, as: UTF8.self),
               !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                return text
            }
            return "0x" + Digest.hex(value)
        }
    }

    /// Reads every entry of a layer, hashing regular files while they stream by, and hands
    /// each path's summary to `body`. Memory: one buffer, plus one small file at a time.
    static func scan(_ layer: Layer, _ body: (RelativePath, Summary) throws -> Void) throws {
        let reader = try layer.store.openLayer(layer.layer, diffID: layer.diffID)
        // 1 MiB reads: few calls per large file, one allocation for the whole layer.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        var small: [UInt8] = []
        while let entry = try reader.next() {
            var content: Digest?
            var isText = false
            if case .regular(let size) = entry.kind {
                let hashing = DigestingSink(downstream: nil)
                let keep = size <= Int64(textLimit)
                small.removeAll(keepingCapacity: true)
                while true {
                    let count = try reader.read(into: buffer)
                    if count == 0 { break }
                    let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
                    try hashing.write(chunk)
                    if keep { small.append(contentsOf: chunk) }
                }
                try hashing.finish()
                content = hashing.digest
                isText = keep && looksLikeText(small)
            }
            try body(entry.path, Summary(
                kind: entry.kind, mode: entry.mode, uid: entry.uid, gid: entry.gid, mtime: entry.mtime,
                xattrs: entry.xattrs, content: content, isText: isText
            ))
        }
    }

    /// Valid UTF-8 without a NUL byte: what `diff` and a terminal can show.
    static func looksLikeText(_ bytes: [UInt8]) -> Bool {
        !bytes.contains(0) && String(validating: bytes, as: UTF8.self) != nil
    }

    // MARK: - Second pass

    /// The content of the regular files `wanted` names, each checked against the digest the
    /// first pass recorded (so a layer changed in between, or a path written twice, cannot
    /// pair a digest with other bytes). Reading stops once every file is found.
    static func readTexts(_ wanted: [RelativePath: Digest], from layer: Layer) throws -> [RelativePath: String] {
        guard !wanted.isEmpty else { return [:] }
        var found: [RelativePath: String] = [:]
        let reader = try layer.store.openLayer(layer.layer, diffID: layer.diffID)
        while found.count < wanted.count, let entry = try reader.next() {
            guard let digest = wanted[entry.path], found[entry.path] == nil,
                  entry.contentSize <= Int64(textLimit), case .regular = entry.kind else { continue }
            let bytes = try reader.readAll(limit: textLimit)
            guard Digest.sha256(bytes) == digest else { continue }  // an earlier entry of a path written twice
            found[entry.path] = String(decoding: bytes, as: UTF8.self)
        }
        if let missing = wanted.keys.sorted().first(where: { found[$0] == nil }) {
            throw PipelineError.failed("layer \(layer.layer.digest) changed while it was compared: \(missing.absoluteDescription) no longer has content \(wanted[missing].map(\.description) ?? "")")
        }
        return found
    }

    // MARK: - Extraction

    private enum ExtractOutcome {
        case written
        case notRegular
        case hardlink(RelativePath)
    }

    /// One pass over the layer for `path`: the last entry at the path decides.
    private static func extractPass(
        _ path: RelativePath, from store: ContentStore, layer: Descriptor, diffID: Digest, to destination: String
    ) throws -> ExtractOutcome {
        let reader = try store.openLayer(layer, diffID: diffID)
        var outcome = ExtractOutcome.notRegular
        var temporary: String?
        defer { if let temporary { unlink(temporary) } }
        while let entry = try reader.next() {
            guard entry.path == path else { continue }
            if let previous = temporary {
                unlink(previous)
                temporary = nil
            }
            switch entry.kind {
            case .regular:
                // Beside the destination, so the final rename stays on one file system.
                let file = try FileSystem.makeTemporaryFile(in: FileSystem.parent(of: destination), prefix: ".bake-extract")
                temporary = file.path
                let sink = FileSink(file: file, sync: false)
                try reader.copy(to: sink)
                try sink.finish()
                try file.close()
                outcome = .written
            case .hardlink(let target):
                outcome = .hardlink(target)
            default:
                outcome = .notRegular
            }
        }
        // The whole layer has been read and verified: only now is the file trusted.
        if case .written = outcome, let written = temporary {
            try FileSystem.rename(written, destination)
            temporary = nil
        }
        return outcome
    }
}
