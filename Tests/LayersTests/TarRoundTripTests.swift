import Foundation
import Testing
@testable import Layers

@Suite struct TarRoundTripTests {
    /// Every kind of entry and every field that needs more than a plain ustar header.
    static let edgeCases: [TarTest.Item] = [
        TarTest.item("empty-dir", .directory),
        TarTest.file("plain.txt", "hello\n"),
        TarTest.file("empty-file", ""),
        TarTest.file("dir/" + String(repeating: "n", count: 99), "99 bytes of name"),
        TarTest.file("dir/" + String(repeating: "n", count: 100), "exactly 104 bytes of path"),
        TarTest.file(String(repeating: "deep/", count: 60) + "leaf", "a 305-byte path"),
        TarTest.item("link-long", .symlink(target: Array(String(repeating: "t/", count: 80).utf8))),
        TarTest.item("link-short", .symlink(target: Array("plain.txt".utf8)), mode: 0o777),
        TarTest.item("link-dangling", .symlink(target: Array("/does/not/exist".utf8)), mode: 0o777),
        TarTest.item("hard", .hardlink(target: TarTest.path("plain.txt")), mode: 0o644),
        TarTest.file("héllo wörld ✓.txt", "utf-8 name"),
        TarTest.file("日本語/ファイル", "utf-8 folder"),
        TarTest.file("setuid", "s", mode: 0o4755),
        TarTest.file("setgid", "s", mode: 0o2755),
        TarTest.item("sticky", .directory, mode: 0o1777),
        TarTest.file("big-ids", "ids", uid: 4_000_000_000, gid: 3_000_000),
        TarTest.file("old", "before 1970", mtime: -86_400),
        TarTest.file("future", "after 2242", mtime: 9_000_000_000),
        TarTest.item("xattrs", .regular(size: 0), mode: 0o644, xattrs: [
            "user.comment": Array("a value".utf8),
            "security.capability": [0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
            "user.binary\u{1}": [0, 10, 61, 32, 255],
        ]),
        TarTest.item("dev/null", .characterDevice(major: 1, minor: 3), mode: 0o666),
        TarTest.item("dev/sda", .blockDevice(major: 8, minor: 0), mode: 0o660),
        TarTest.item("fifo", .fifo, mode: 0o600),
        TarTest.item("etc/.wh.removed", .regular(size: 0), mode: 0o600),
        TarTest.item("etc/.wh..wh..opq", .regular(size: 0), mode: 0o600),
    ]

    @Test func everyEdgeCaseRoundTrips() throws {
        let bytes = try TarTest.archive(Self.edgeCases)
        let read = try TarTest.read(bytes)
        #expect(read.count == Self.edgeCases.count)
        for (written, back) in zip(Self.edgeCases, read) {
            #expect(back.entry == written.entry, "\(written.entry.path)")
            #expect(back.content == written.content, "\(written.entry.path)")
        }
    }

    @Test func nonUTF8NamesSurviveByteForByte() throws {
        let name: [UInt8] = Array("latin1-".utf8) + [0xe9, 0x74, 0xe9]  // "été" in Latin-1
        let path = try RelativePath(normalizing: name)
        let entry = TarEntry(path: path, kind: .regular(size: 0), mode: 0o644, mtime: 0)
        let back = try TarTest.read(try TarTest.archive([TarTest.Item(entry: entry)]))
        #expect(back.first?.entry.path.bytes == name)
    }

    @Test func outputIsDeterministicAndTerminated() throws {
        let first = try TarTest.archive(Self.edgeCases)
        let second = try TarTest.archive(Self.edgeCases)
        #expect(first == second)
        #expect(first.count % 512 == 0)
        #expect(first.suffix(1024).allSatisfy { $0 == 0 })
        // No user or group names are ever written (uname at 265, gname at 297).
        let header = Array(first.prefix(512))
        #expect(header[265..<329].allSatisfy { $0 == 0 })
    }

    @Test func paxRecordsAreSortedAndCarryAFixedName() throws {
        let item = TarTest.item(String(repeating: "x", count: 120), .regular(size: 0), mode: 0o644, uid: 5_000_000, xattrs: ["user.b": [1], "user.a": [2]])
        let bytes = try TarTest.archive([item])
        #expect(bytes[156] == UInt8(ascii: "x"))
        let name = String(decoding: bytes[0..<100].prefix { $0 != 0 }, as: UTF8.self)
        #expect(name == "PaxHeaders/" + String(repeating: "x", count: 89))
        let size = Int(String(decoding: bytes[124..<135], as: UTF8.self), radix: 8)!
        let records = String(decoding: bytes[512..<(512 + size)], as: UTF8.self)
        let keys = records.split(separator: "\n").map { $0.split(separator: " ", maxSplits: 1)[1].split(separator: "=")[0] }
        #expect(keys == ["SCHILY.xattr.user.a", "SCHILY.xattr.user.b", "path", "uid"])
    }

    @Test func aLyingSizeIsCaught() throws {
        let sink = ArraySink()
        let writer = TarWriter(sink: sink)
        let entry = TarEntry(path: TarTest.path("f"), kind: .regular(size: 10), mode: 0o644, mtime: 0)
        #expect(throws: LayersError.self) { try writer.append(entry, contentFrom: ArraySource(Array(repeating: 1, count: 5)), describedAs: "f") }
        let writer2 = TarWriter(sink: ArraySink())
        #expect(throws: LayersError.self) { try writer2.append(entry, contentFrom: ArraySource(Array(repeating: 1, count: 11)), describedAs: "f") }
    }

    @Test(arguments: ["/etc/passwd", "../escape", "a/../../b", "ok/../.."])
    func unsafePathsAreRefusedWhenRead(_ name: String) throws {
        // Hand-craft a header with the raw name: the writer itself never produces one.
        var block = [UInt8](repeating: 0, count: 512)
        TarHeader.putBytes(Array(name.utf8), TarHeader.Field.name, into: &block)
        TarHeader.putOctal(0o644, TarHeader.Field.mode, into: &block)
        TarHeader.putOctal(0, TarHeader.Field.uid, into: &block)
        TarHeader.putOctal(0, TarHeader.Field.gid, into: &block)
        TarHeader.putOctal(0, TarHeader.Field.size, into: &block)
        TarHeader.putOctal(0, TarHeader.Field.mtime, into: &block)
        block[TarHeader.Field.typeflag] = TarHeader.TypeFlag.regular
        TarHeader.putBytes(TarHeader.ustarMagic, TarHeader.Field.magic, into: &block)
        TarHeader.putBytes(TarHeader.ustarVersion, TarHeader.Field.version, into: &block)
        TarHeader.putChecksum(into: &block)
        let reader = TarReader(source: ArraySource(block + [UInt8](repeating: 0, count: 1024)))
        #expect(throws: LayersError.self) { _ = try reader.next() }
    }

    @Test func corruptHeadersAndTruncationAreErrors() throws {
        var bytes = try TarTest.archive([TarTest.file("a", "hello")])
        bytes[10] ^= 0xff
        #expect(throws: LayersError.self) { _ = try TarTest.read(bytes) }
        let good = try TarTest.archive([TarTest.file("a", String(repeating: "z", count: 2000))])
        #expect(throws: LayersError.self) { _ = try TarTest.read(Array(good.prefix(1024))) }
    }
}

@Suite struct RelativePathTests {
    @Test func normalises() throws {
        #expect(try RelativePath("./a//b/./c/").description == "a/b/c")
        #expect(try RelativePath("/srv/app/", allowAbsolute: true).description == "srv/app")
        #expect(try RelativePath("/", allowAbsolute: true).isRoot)
        #expect(try RelativePath("a/b/c").ancestors.map(\.description) == ["a", "a/b"])
        #expect(try RelativePath("a/b").parent?.description == "a")
        #expect(try RelativePath("a").parent == .root)
    }

    @Test(arguments: ["../x", "a/../b", "..", "/abs"])
    func refusesUnsafePaths(_ text: String) {
        #expect(throws: LayersError.self) { try RelativePath(text) }
    }

    @Test func sortsParentsBeforeChildrenAndSiblingsByBytes() throws {
        let paths = ["a-b", "a/x", "a", "B", "a/x/y", "a.c", "b"].map { try! RelativePath($0) }
        #expect(paths.sorted().map(\.description) == ["B", "a", "a/x", "a/x/y", "a-b", "a.c", "b"])
    }
}
