import Foundation
@testable import Layers

/// Helpers for writing and reading archives in memory.
enum TarTest {
    /// An entry plus the content a regular file carries.
    struct Item {
        var entry: TarEntry
        var content: [UInt8] = []
    }

    static func path(_ text: String) -> RelativePath { try! RelativePath(text) }

    static func file(_ name: String, _ content: String, mode: UInt32 = 0o644, uid: UInt32 = 0, gid: UInt32 = 0, mtime: Int64 = 0) -> Item {
        let bytes = Array(content.utf8)
        return Item(entry: TarEntry(path: path(name), kind: .regular(size: Int64(bytes.count)), mode: mode, uid: uid, gid: gid, mtime: mtime), content: bytes)
    }

    static func item(_ name: String, _ kind: TarEntry.Kind, mode: UInt32 = 0o755, uid: UInt32 = 0, gid: UInt32 = 0, mtime: Int64 = 0, xattrs: [String: [UInt8]] = [:]) -> Item {
        Item(entry: TarEntry(path: path(name), kind: kind, mode: mode, uid: uid, gid: gid, mtime: mtime, xattrs: xattrs))
    }

    static func archive(_ items: [Item]) throws -> [UInt8] {
        let sink = ArraySink()
        let writer = TarWriter(sink: sink)
        for item in items {
            if item.entry.contentSize > 0 {
                try writer.append(item.entry, contentFrom: ArraySource(item.content), describedAs: item.entry.path.description)
            } else {
                try writer.append(item.entry)
            }
        }
        try writer.finish()
        return sink.bytes
    }

    static func read(_ bytes: [UInt8]) throws -> [Item] {
        let reader = TarReader(source: ArraySource(bytes))
        var items: [Item] = []
        while let entry = try reader.next() {
            items.append(Item(entry: entry, content: try reader.readAll()))
        }
        return items
    }

    static func readFile(_ path: String) throws -> [Item] {
        try read(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
    }
}

/// A source of `count` zero bytes that holds none of them in memory.
final class ZeroSource: ByteSource {
    private var remaining: Int64
    init(count: Int64) { remaining = count }
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let count = Int(min(Int64(buffer.count), remaining))
        if count > 0 { buffer.baseAddress!.initializeMemory(as: UInt8.self, repeating: 0, count: count) }
        remaining -= Int64(count)
        return count
    }
}

/// Writes to a file, turning all-zero buffers into holes so a huge archive costs no disk.
final class SparseFileSink: ByteSink {
    let file: OpenFile
    private let zeros = [UInt8](repeating: 0, count: 1 << 20)
    init(path: String) throws { file = try OpenFile(path: path, flags: O_WRONLY | O_CREAT | O_TRUNC) }
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        if bytes.count >= 4096, bytes.count <= zeros.count,
           zeros.withUnsafeBytes({ memcmp($0.baseAddress!, bytes.baseAddress!, bytes.count) }) == 0 {
            lseek(file.fd, off_t(bytes.count), SEEK_CUR)
        } else {
            try file.writeAll(bytes)
        }
    }
    func finish() throws {
        // Make the file's length include a trailing hole.
        let end = lseek(file.fd, 0, SEEK_CUR)
        ftruncate(file.fd, end)
        try file.close()
    }
}
