/// A streaming tar reader: POSIX ustar and PAX (local and global headers, long paths and
/// link paths, large sizes, `SCHILY.xattr.*`), GNU long names and base-256 numbers, and
/// old V7 headers. Content is read through `ByteSource` or skipped.
///
/// Paths are normalised and checked: an absolute path or a `..` component is refused.
/// When the archive ends, the reader drains its source, so a verifying source below it
/// checks the blob's digest before the caller trusts what it read.
public final class TarReader: ByteSource {
    private let source: ByteSource
    private var buffer = [UInt8](repeating: 0, count: 1 << 16)
    private var start = 0
    private var end = 0
    private var sourceEnded = false
    private var remainingContent: Int64 = 0
    private var remainingPadding = 0
    private var globalRecords: [String: [UInt8]] = [:]
    private var finished = false
    /// Number of the entry last returned, for messages.
    public private(set) var entryCount = 0

    /// Largest entry size accepted (1 EiB): far beyond any real file, small enough that no
    /// size or offset arithmetic can overflow.
    static let maximumSize: Int64 = 1 << 60

    /// Most bytes of extended headers (PAX records, GNU long names) one entry may carry,
    /// its own and the archive's global ones together: far more than any path, link target
    /// or set of attributes needs, and the most memory a hostile archive can make the
    /// reader hold, however many headers it stacks.
    public static let maximumExtendedHeaders: Int64 = 1 << 20

    /// Longest path an entry may have (as `/PATH`, with the NUL: Linux's PATH_MAX of 4096).
    public static let maximumPathLength = 4094
    /// Longest name of one component (Linux's NAME_MAX).
    public static let maximumNameLength = 255
    /// Longest symlink target (PATH_MAX less its NUL).
    public static let maximumLinkLength = 4095

    /// Most bytes of extended attributes all entries of one archive may carry together:
    /// callers keep entries (and their attributes) for a whole layer, so this bounds the
    /// memory a hostile layer of many entries with large attributes could take. Real
    /// layers carry a few bytes each (file capabilities, SELinux labels).
    public static let maximumAttributesPerArchive: Int64 = 64 << 20

    /// Bytes of the global records in force.
    private var globalBytes: Int64 = 0
    /// Bytes of extended attributes returned so far.
    private var attributeBytes: Int64 = 0

    public init(source: ByteSource) {
        self.source = source
    }

    /// The next entry, or nil at the end of the archive. Unread content of the previous
    /// entry is skipped.
    public func next() throws -> TarEntry? {
        if finished { return nil }
        try skip(remainingContent)
        try skip(Int64(remainingPadding))
        remainingContent = 0
        remainingPadding = 0

        var localRecords: [String: [UInt8]] = [:]
        var gnuLongName: [UInt8]?
        var gnuLongLink: [UInt8]?
        var localBytes: Int64 = 0
        while true {
            guard let block = try readBlock() else {
                // End of input at a block boundary: accepted as the end of the archive, unless
                // an extended header promised an entry that never came.
                guard localRecords.isEmpty, gnuLongName == nil, gnuLongLink == nil else {
                    throw LayersError.malformedArchive("archive ends after an extended header, before its entry")
                }
                finished = true
                return nil
            }
            if block.allSatisfy({ $0 == 0 }) {
                finished = true
                try drainSource()
                return nil
            }
            guard TarHeader.checksumMatches(block) else {
                throw LayersError.malformedArchive("header \(entryCount + 1) has a bad checksum (not a tar archive, or corrupt)")
            }
            let flag = block[TarHeader.Field.typeflag]
            guard let size = TarHeader.number(block, TarHeader.Field.size), size >= 0, size <= Self.maximumSize else {
                throw LayersError.malformedArchive("header \(entryCount + 1) has an invalid size field")
            }
            let extended = [TarHeader.TypeFlag.paxLocal, TarHeader.TypeFlag.paxGlobal,
                            TarHeader.TypeFlag.gnuLongName, TarHeader.TypeFlag.gnuLongLink]
            if extended.contains(flag) {
                if size + localBytes + globalBytes > Self.maximumExtendedHeaders {
                    try refuseExtendedHeaders(size, held: localBytes + globalBytes)
                }
                if flag != TarHeader.TypeFlag.paxGlobal { localBytes += size }
            }
            switch flag {
            case TarHeader.TypeFlag.paxLocal:
                localRecords.merge(try parsePax(try readMeta(size)), uniquingKeysWith: { $1 })
                continue
            case TarHeader.TypeFlag.paxGlobal:
                globalRecords.merge(try parsePax(try readMeta(size)), uniquingKeysWith: { $1 })
                globalBytes = globalRecords.reduce(0) { $0 + Int64($1.key.utf8.count + $1.value.count) }
                continue
            case TarHeader.TypeFlag.gnuLongName:
                gnuLongName = trimNul(try readMeta(size))
                continue
            case TarHeader.TypeFlag.gnuLongLink:
                gnuLongLink = trimNul(try readMeta(size))
                continue
            default:
                break
            }
            entryCount += 1
            var records = globalRecords
            records.merge(localRecords, uniquingKeysWith: { $1 })
            let entry = try makeEntry(block, flag: flag, headerSize: size, records: records,
                                      longName: gnuLongName, longLink: gnuLongLink)
            if entry.hasWhiteoutName && entry.whiteout == nil {
                throw LayersError.malformedArchive("entry '\(entry.path)' is a whiteout that names nothing it could remove")
            }
            return entry
        }
    }

    /// Reads content of the current entry; 0 when it is exhausted.
    public func read(into destination: UnsafeMutableRawBufferPointer) throws -> Int {
        guard remainingContent > 0 else { return 0 }
        let want = Int(min(Int64(destination.count), remainingContent))
        let got = try readRaw(into: UnsafeMutableRawBufferPointer(rebasing: destination[0..<want]))
        guard got > 0 else { throw LayersError.malformedArchive("archive is truncated inside entry \(entryCount)") }
        remainingContent -= Int64(got)
        return got
    }

    // MARK: - Headers

    /// Refuses extended headers beyond `maximumExtendedHeaders`, naming the entry they
    /// belong to when the header after them says (their bytes are skipped, never held).
    private func refuseExtendedHeaders(_ size: Int64, held: Int64) throws -> Never {
        let limit = "bake accepts at most \(Self.maximumExtendedHeaders >> 20) MiB of them per entry"
        let total = size + held
        let amount = total >= 1 << 20 ? "\(total >> 20) MiB" : "\(total) bytes"
        // Skip this header and any more extended headers after it (streamed, never held)
        // to the header of the entry they belong to.
        let extended = [TarHeader.TypeFlag.paxLocal, TarHeader.TypeFlag.paxGlobal, TarHeader.TypeFlag.gnuLongName, TarHeader.TypeFlag.gnuLongLink]
        func padded(_ size: Int64) -> Int64 {
            (size + Int64(TarHeader.blockSize) - 1) / Int64(TarHeader.blockSize) * Int64(TarHeader.blockSize)
        }
        var name: [UInt8]?
        var toSkip = size
        while (try? skip(padded(toSkip))) != nil, let block = try? readBlock(), TarHeader.checksumMatches(block),
              let next = TarHeader.number(block, TarHeader.Field.size), next >= 0, next <= Self.maximumSize {
            if extended.contains(block[TarHeader.Field.typeflag]) {
                toSkip = next
                continue
            }
            var bytes = TarHeader.string(block, TarHeader.Field.name)
            let prefix = TarHeader.string(block, TarHeader.Field.prefix)
            if Array(block[TarHeader.Field.magic]) == TarHeader.ustarMagic && !prefix.isEmpty { bytes = prefix + [0x2f] + bytes }
            if !bytes.isEmpty { name = bytes }
            break
        }
        if let name {
            throw LayersError.unsafeEntry(path: RelativePath.abbreviated(name), reason: "its extended headers hold \(amount); \(limit)")
        }
        throw LayersError.unsupported("entry \(entryCount + 1) of the archive has \(amount) of extended headers; \(limit)")
    }

    /// Refuses a path Linux could not use (longer than PATH_MAX, or a name longer than
    /// NAME_MAX): it could be neither extracted nor used in a container.
    private func checkLength(_ path: RelativePath, what: String) throws {
        if path.bytes.count > Self.maximumPathLength {
            throw LayersError.unsafeEntry(
                path: RelativePath.abbreviated(path.bytes),
                reason: "\(what) is \(path.bytes.count + 1) bytes long; Linux paths are at most \(Self.maximumPathLength + 1)")
        }
        if let long = path.components.first(where: { $0.count > Self.maximumNameLength }) {
            throw LayersError.unsafeEntry(
                path: RelativePath.abbreviated(path.bytes),
                reason: "\(what) has a \(long.count)-byte name; Linux file names are at most \(Self.maximumNameLength) bytes")
        }
    }

    private func makeEntry(
        _ block: [UInt8], flag: UInt8, headerSize: Int64, records: [String: [UInt8]],
        longName: [UInt8]?, longLink: [UInt8]?
    ) throws -> TarEntry {
        typealias F = TarHeader.Field
        let isPosix = Array(block[F.magic]) == TarHeader.ustarMagic
        var name: [UInt8]
        if let path = records["path"] {
            name = path
        } else if let longName {
            name = longName
        } else {
            name = TarHeader.string(block, F.name)
            let prefix = TarHeader.string(block, F.prefix)
            if isPosix && !prefix.isEmpty { name = prefix + [0x2f] + name }
        }
        let linkName = records["linkpath"] ?? longLink ?? TarHeader.string(block, F.linkname)
        let size = try records["size"].map { try decimal($0, "size") } ?? headerSize
        guard size <= Self.maximumSize else {
            throw LayersError.malformedArchive("entry '\(FileSystem.text(name))' claims \(size) bytes")
        }
        guard let mode = TarHeader.number(block, F.mode),
              let headerUID = TarHeader.number(block, F.uid),
              let headerGID = TarHeader.number(block, F.gid),
              let headerMtime = TarHeader.number(block, F.mtime)
        else {
            throw LayersError.malformedArchive("entry '\(FileSystem.text(name))' has an invalid numeric field")
        }
        let uid = try records["uid"].map { try decimal($0, "uid") } ?? headerUID
        let gid = try records["gid"].map { try decimal($0, "gid") } ?? headerGID
        let mtime = try records["mtime"].map { try paxTime($0) } ?? headerMtime
        guard uid >= 0, uid <= Int64(UInt32.max), gid >= 0, gid <= Int64(UInt32.max) else {
            throw LayersError.malformedArchive("entry '\(FileSystem.text(name))' has an owner outside 0...\(UInt32.max)")
        }
        if records.keys.contains(where: { $0.hasPrefix("GNU.sparse.") }) {
            throw LayersError.unsupported("entry '\(FileSystem.text(name))' is a GNU sparse file, which bake does not read")
        }
        var xattrs: [String: [UInt8]] = [:]
        for (key, value) in records where key.hasPrefix("SCHILY.xattr.") {
            xattrs[String(key.dropFirst("SCHILY.xattr.".count))] = value
            attributeBytes += Int64(key.utf8.count + value.count)
        }
        if attributeBytes > Self.maximumAttributesPerArchive {
            throw LayersError.unsafeEntry(
                path: RelativePath.abbreviated(name),
                reason: "the archive's extended attributes add up to more than \(Self.maximumAttributesPerArchive >> 20) MiB at it; bake accepts at most that")
        }

        let endsWithSlash = name.last == 0x2f
        let path = try RelativePath(normalizing: name)
        try checkLength(path, what: "its path")
        let devMajor = UInt32(clamping: TarHeader.number(block, F.devmajor) ?? 0)
        let devMinor = UInt32(clamping: TarHeader.number(block, F.devminor) ?? 0)

        let kind: TarEntry.Kind
        var contentSize: Int64 = 0
        switch flag {
        case TarHeader.TypeFlag.regular, TarHeader.TypeFlag.regularOld, TarHeader.TypeFlag.contiguous:
            if endsWithSlash && flag == TarHeader.TypeFlag.regularOld {
                kind = .directory  // V7 convention for folders
            } else {
                kind = .regular(size: size)
                contentSize = size
            }
        case TarHeader.TypeFlag.directory:
            kind = .directory
            contentSize = size  // normally 0; skipped if not
        case TarHeader.TypeFlag.symlink:
            guard linkName.count <= Self.maximumLinkLength else {
                throw LayersError.unsafeEntry(path: RelativePath.abbreviated(path.bytes),
                                              reason: "its link target is \(linkName.count) bytes long; Linux allows \(Self.maximumLinkLength)")
            }
            guard !linkName.isEmpty, !linkName.contains(0) else {
                throw LayersError.unsafeEntry(path: RelativePath.abbreviated(path.bytes),
                                              reason: linkName.isEmpty ? "its link target is empty, which Linux cannot store"
                                                                       : "its link target holds a NUL byte, which Linux cannot store")
            }
            kind = .symlink(target: linkName)
        case TarHeader.TypeFlag.hardlink:
            let target = try RelativePath(normalizing: linkName)
            try checkLength(target, what: "its link target")
            kind = .hardlink(target: target)
        case TarHeader.TypeFlag.character:
            kind = .characterDevice(major: devMajor, minor: devMinor)
        case TarHeader.TypeFlag.block:
            kind = .blockDevice(major: devMajor, minor: devMinor)
        case TarHeader.TypeFlag.fifo:
            kind = .fifo
        default:
            let printable = (0x20..<0x7f).contains(flag) ? String(UnicodeScalar(flag)) : "\\(\(flag))"
            throw LayersError.unsupported("entry '\(FileSystem.text(name))' has tar type '\(printable)', which bake does not read")
        }
        remainingContent = contentSize
        let remainder = Int(contentSize % Int64(TarHeader.blockSize))
        remainingPadding = remainder == 0 ? 0 : TarHeader.blockSize - remainder
        if case .directory = kind, contentSize > 0 {
            // Content of a folder entry is meaningless; skip it now.
            try skip(contentSize)
            try skip(Int64(remainingPadding))
            remainingContent = 0
            remainingPadding = 0
        }
        return TarEntry(
            path: path, kind: kind, mode: UInt32(truncatingIfNeeded: mode) & 0o7777,
            uid: UInt32(uid), gid: UInt32(gid), mtime: mtime, xattrs: xattrs
        )
    }

    private func parsePax(_ data: [UInt8]) throws -> [String: [UInt8]] {
        var records: [String: [UInt8]] = [:]
        var index = 0
        while index < data.count {
            if data[index] == 0 { break }  // trailing NUL padding
            guard let space = data[index...].firstIndex(of: 0x20),
                  let length = Int(String(decoding: data[index..<space], as: UTF8.self)),
                  length > space - index, length <= data.count - index,
                  data[index + length - 1] == 0x0a
            else {
                throw LayersError.malformedArchive("a PAX extended header near entry \(entryCount + 1) is malformed")
            }
            let record = data[(space + 1)..<(index + length - 1)]
            guard let equals = record.firstIndex(of: 0x3d) else {
                throw LayersError.malformedArchive("a PAX record near entry \(entryCount + 1) has no '='")
            }
            let key = String(decoding: record[record.startIndex..<equals], as: UTF8.self)
            records[key] = Array(record[(equals + 1)...])
            index += length
        }
        return records
    }

    private func decimal(_ bytes: [UInt8], _ key: String) throws -> Int64 {
        guard let value = Int64(String(decoding: bytes, as: UTF8.self)), value >= 0 else {
            throw LayersError.malformedArchive("PAX record \(key)='\(FileSystem.text(bytes))' is not a number")
        }
        return value
    }

    private func paxTime(_ bytes: [UInt8]) throws -> Int64 {
        let text = String(decoding: bytes, as: UTF8.self)
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard var seconds = Int64(parts[0]) else {
            throw LayersError.malformedArchive("PAX record mtime='\(text)' is not a time")
        }
        // "-1.5" is 1.5 s before the epoch: round towards the past, as the seconds field would.
        if text.hasPrefix("-"), parts.count > 1, parts[1].contains(where: { $0 != "0" }) { seconds -= 1 }
        return seconds
    }

    private func trimNul(_ bytes: [UInt8]) -> [UInt8] {
        if let nul = bytes.firstIndex(of: 0) { return Array(bytes[..<nul]) }
        return bytes
    }

    // MARK: - Buffered input

    private func readMeta(_ size: Int64) throws -> [UInt8] {
        // (Callers bound `size` by `maximumExtendedHeaders` first.)
        var data = [UInt8](repeating: 0, count: Int(size))
        var filled = 0
        while filled < data.count {
            let got = try data.withUnsafeMutableBytes {
                try readRaw(into: UnsafeMutableRawBufferPointer(rebasing: $0[filled...]))
            }
            guard got > 0 else { throw LayersError.malformedArchive("archive is truncated in an extended header") }
            filled += got
        }
        let remainder = Int(size % Int64(TarHeader.blockSize))
        if remainder != 0 { try skip(Int64(TarHeader.blockSize - remainder)) }
        return data
    }

    private func readBlock() throws -> [UInt8]? {
        var block = [UInt8](repeating: 0, count: TarHeader.blockSize)
        var filled = 0
        while filled < block.count {
            let got = try block.withUnsafeMutableBytes {
                try readRaw(into: UnsafeMutableRawBufferPointer(rebasing: $0[filled...]))
            }
            if got == 0 {
                if filled == 0 { return nil }
                throw LayersError.malformedArchive("archive is truncated in a header")
            }
            filled += got
        }
        return block
    }

    private func readRaw(into destination: UnsafeMutableRawBufferPointer) throws -> Int {
        if start == end {
            if sourceEnded { return 0 }
            // Large reads go straight to the caller's buffer.
            if destination.count >= buffer.count {
                let got = try source.read(into: destination)
                if got == 0 { sourceEnded = true }
                return got
            }
            let got = try buffer.withUnsafeMutableBytes { try source.read(into: $0) }
            if got == 0 {
                sourceEnded = true
                return 0
            }
            start = 0
            end = got
        }
        let count = min(destination.count, end - start)
        buffer.withUnsafeBytes { destination.baseAddress!.copyMemory(from: $0.baseAddress! + start, byteCount: count) }
        start += count
        return count
    }

    private func skip(_ count: Int64) throws {
        var remaining = count
        // What is buffered first, then seek over the rest when the source allows it.
        let buffered = Int64(end - start)
        if remaining > buffered, let seekable = source as? SkippableSource {
            remaining -= buffered
            start = end
            if try seekable.skip(remaining) { return }
        }
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 8)
        defer { scratch.deallocate() }
        while remaining > 0 {
            let want = Int(min(Int64(scratch.count), remaining))
            let got = try readRaw(into: UnsafeMutableRawBufferPointer(rebasing: scratch[0..<want]))
            guard got > 0 else { throw LayersError.malformedArchive("archive is truncated inside entry \(entryCount)") }
            remaining -= Int64(got)
        }
    }

    private func drainSource() throws {
        start = end
        if !sourceEnded {
            try source.drain()
            sourceEnded = true
        }
    }
}
