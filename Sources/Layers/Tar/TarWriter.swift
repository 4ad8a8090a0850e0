/// A streaming, deterministic PAX tar writer.
///
/// Entries are written exactly as given; callers decide order, modes, owners and times
/// (Layers' tree writers apply DESIGN.md's determinism rules). The writer itself adds
/// nothing that varies: user and group names are empty, there is no atime or ctime, PAX
/// extended headers carry a fixed name and their records are sorted by key, and the
/// archive ends with exactly two zero blocks.
///
/// Memory is bounded by one 1 MiB content buffer, whatever the size of the files.
public final class TarWriter {
    private let sink: ByteSink
    private let buffer: UnsafeMutableRawBufferPointer
    /// Bytes written so far (headers, content, padding).
    public private(set) var bytesWritten: Int64 = 0
    private var finished = false

    /// Writes the archive to `sink`.
    public init(sink: ByteSink) {
        self.sink = sink
        self.buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
    }

    deinit {
        buffer.deallocate()
    }

    /// Appends an entry without content (anything but a non-empty regular file).
    public func append(_ entry: TarEntry) throws {
        guard entry.contentSize == 0 else {
            throw LayersError.unsupported("tar entry \(entry.path) has \(entry.contentSize) bytes of content but none was given")
        }
        try writeHeader(entry)
    }

    /// Appends a regular file whose `size` bytes are read from `source`. Throws
    /// `fileChanged` if the source holds fewer or more bytes than the entry's size.
    public func append(_ entry: TarEntry, contentFrom source: ByteSource, describedAs name: String) throws {
        try writeHeader(entry)
        var remaining = entry.contentSize
        while remaining > 0 {
            let want = Int(min(Int64(buffer.count), remaining))
            let got = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]))
            guard got > 0 else { throw LayersError.fileChanged(path: name) }
            try emit(UnsafeRawBufferPointer(rebasing: buffer[0..<got]))
            remaining -= Int64(got)
        }
        // One more read must find the end: a file that grew would otherwise be cut silently.
        if entry.contentSize >= 0, try source.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<1])) != 0 {
            throw LayersError.fileChanged(path: name)
        }
        try pad(entry.contentSize)
    }

    /// Appends a regular file whose content is the file `file`.
    public func append(_ entry: TarEntry, contentOf file: OpenFile) throws {
        try append(entry, contentFrom: FileSource(file: file), describedAs: file.path)
    }

    /// Writes the end-of-archive marker (two zero blocks) and finishes the sink chain.
    public func finish() throws {
        guard !finished else { return }
        finished = true
        try emit([UInt8](repeating: 0, count: 2 * TarHeader.blockSize))
        try sink.finish()
    }

    // MARK: - Encoding

    private func emit(_ bytes: UnsafeRawBufferPointer) throws {
        try sink.write(bytes)
        bytesWritten += Int64(bytes.count)
    }

    private func emit(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try emit($0) }
    }

    private func pad(_ size: Int64) throws {
        let remainder = Int(size % Int64(TarHeader.blockSize))
        if remainder != 0 {
            try emit([UInt8](repeating: 0, count: TarHeader.blockSize - remainder))
        }
    }

    private func writeHeader(_ entry: TarEntry) throws {
        try emit(try Self.encodeHeader(entry))
    }

    /// The header block(s) of an entry: an optional PAX extended header, then the ustar header.
    static func encodeHeader(_ entry: TarEntry) throws -> [UInt8] {
        typealias F = TarHeader.Field
        var records: [(key: [UInt8], value: [UInt8])] = []
        var name = entry.path.isRoot ? Array("./".utf8) : entry.path.bytes
        if entry.isDirectory && !entry.path.isRoot { name.append(0x2f) }

        var binary = false
        if name.count > F.name.count || name.contains(where: { $0 >= 0x80 }) {
            records.append((Array("path".utf8), name))
            binary = binary || !isUTF8(name)
        }

        var link: [UInt8] = []
        var typeflag = TarHeader.TypeFlag.regular
        var size: Int64 = 0
        var major: UInt32 = 0, minor: UInt32 = 0
        switch entry.kind {
        case .regular(let bytes):
            guard bytes >= 0 else { throw LayersError.unsupported("tar entry \(entry.path) has a negative size") }
            size = bytes
        case .directory:
            typeflag = TarHeader.TypeFlag.directory
        case .symlink(let target):
            typeflag = TarHeader.TypeFlag.symlink
            link = target
        case .hardlink(let target):
            typeflag = TarHeader.TypeFlag.hardlink
            link = target.bytes
        case .characterDevice(let devMajor, let devMinor):
            typeflag = TarHeader.TypeFlag.character
            (major, minor) = (devMajor, devMinor)
        case .blockDevice(let devMajor, let devMinor):
            typeflag = TarHeader.TypeFlag.block
            (major, minor) = (devMajor, devMinor)
        case .fifo:
            typeflag = TarHeader.TypeFlag.fifo
        }
        if link.count > F.linkname.count || link.contains(where: { $0 >= 0x80 }) {
            records.append((Array("linkpath".utf8), link))
            binary = binary || !isUTF8(link)
        }
        let maxSmall = TarHeader.maxOctal(width: 8)
        let maxLarge = TarHeader.maxOctal(width: 12)
        if size > maxLarge { records.append((Array("size".utf8), Array(String(size).utf8))) }
        if Int64(entry.uid) > maxSmall { records.append((Array("uid".utf8), Array(String(entry.uid).utf8))) }
        if Int64(entry.gid) > maxSmall { records.append((Array("gid".utf8), Array(String(entry.gid).utf8))) }
        if entry.mtime < 0 || entry.mtime > maxLarge {
            records.append((Array("mtime".utf8), Array(String(entry.mtime).utf8)))
        }
        guard Int64(major) <= maxSmall, Int64(minor) <= maxSmall else {
            throw LayersError.unsupported("device \(entry.path) has numbers \(major),\(minor), too large for a tar header")
        }
        for (key, value) in entry.xattrs {
            // A PAX key ends at the first '='; such a name could not be read back.
            guard !key.isEmpty, !key.contains("="), !key.contains("\n"), !key.contains("\u{0}") else {
                throw LayersError.unsupported("\(entry.path) has an extended attribute named '\(key)', which a tar header cannot hold")
            }
            records.append((Array("SCHILY.xattr.\(key)".utf8), value))
        }
        if binary { records.append((Array("hdrcharset".utf8), Array("BINARY".utf8))) }

        var out: [UInt8] = []
        if !records.isEmpty {
            // Sorted by key so the extended header does not depend on insertion order.
            records.sort { $0.key.lexicographicallyPrecedes($1.key) }
            var data: [UInt8] = []
            for record in records { data.append(contentsOf: paxRecord(key: record.key, value: record.value)) }
            var pax = [UInt8](repeating: 0, count: TarHeader.blockSize)
            // A fixed name (not GNU's PID-bearing one) keeps the bytes reproducible.
            var paxName = Array("PaxHeaders/".utf8) + entry.path.lastComponent.filter { $0 < 0x80 }
            if paxName.count > F.name.count { paxName = Array(paxName.prefix(F.name.count)) }
            TarHeader.putBytes(paxName, F.name, into: &pax)
            TarHeader.putOctal(0o644, F.mode, into: &pax)
            TarHeader.putOctal(0, F.uid, into: &pax)
            TarHeader.putOctal(0, F.gid, into: &pax)
            TarHeader.putOctal(Int64(data.count), F.size, into: &pax)
            TarHeader.putOctal(min(max(entry.mtime, 0), maxLarge), F.mtime, into: &pax)
            pax[F.typeflag] = TarHeader.TypeFlag.paxLocal
            TarHeader.putBytes(TarHeader.ustarMagic, F.magic, into: &pax)
            TarHeader.putBytes(TarHeader.ustarVersion, F.version, into: &pax)
            TarHeader.putChecksum(into: &pax)
            out.append(contentsOf: pax)
            out.append(contentsOf: data)
            let remainder = data.count % TarHeader.blockSize
            if remainder != 0 { out.append(contentsOf: [UInt8](repeating: 0, count: TarHeader.blockSize - remainder)) }
        }

        var block = [UInt8](repeating: 0, count: TarHeader.blockSize)
        TarHeader.putBytes(Array(name.prefix(F.name.count)), F.name, into: &block)
        TarHeader.putOctal(Int64(entry.mode & 0o7777), F.mode, into: &block)
        TarHeader.putOctal(Int64(entry.uid) > maxSmall ? 0 : Int64(entry.uid), F.uid, into: &block)
        TarHeader.putOctal(Int64(entry.gid) > maxSmall ? 0 : Int64(entry.gid), F.gid, into: &block)
        TarHeader.putOctal(size > maxLarge ? 0 : size, F.size, into: &block)
        TarHeader.putOctal(entry.mtime < 0 || entry.mtime > maxLarge ? 0 : entry.mtime, F.mtime, into: &block)
        block[F.typeflag] = typeflag
        TarHeader.putBytes(Array(link.prefix(F.linkname.count)), F.linkname, into: &block)
        TarHeader.putBytes(TarHeader.ustarMagic, F.magic, into: &block)
        TarHeader.putBytes(TarHeader.ustarVersion, F.version, into: &block)
        // uname and gname stay empty: owners are numeric only.
        TarHeader.putOctal(Int64(major), F.devmajor, into: &block)
        TarHeader.putOctal(Int64(minor), F.devminor, into: &block)
        TarHeader.putChecksum(into: &block)
        out.append(contentsOf: block)
        return out
    }

    /// `"%d %s=%s\n"` where the length counts the whole record, itself included.
    static func paxRecord(key: [UInt8], value: [UInt8]) -> [UInt8] {
        let base = key.count + value.count + 3
        var length = base + 1
        while length != base + String(length).utf8.count {
            length = base + String(length).utf8.count
        }
        return Array(String(length).utf8) + [0x20] + key + [0x3d] + value + [0x0a]
    }

    private static func isUTF8(_ bytes: [UInt8]) -> Bool {
        String(validating: bytes, as: UTF8.self) != nil
    }
}
