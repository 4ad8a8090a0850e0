import Foundation
import Testing
import TestSupport
@testable import Layers

/// Files past the ustar size limit (8 GiB - 1) stream through with bounded memory.
@Suite struct LargeFileTests {
    static let size: Int64 = 8 * 1024 * 1024 * 1024 + 3  // 8 GiB + 3: needs a PAX size record

    static func peakResidentKiB() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss
    }

    @Test(.enabled(if: Host.canRun(tools: ["tar", "bsdtar"])))
    func aFileLargerThan8GiBRoundTripsWithoutBeingHeldInMemory() throws {
        let dir = TemporaryDirectory()
        let path = dir.at("huge.tar")
        let entry = TarEntry(path: TarTest.path("huge.bin"), kind: .regular(size: Self.size), mode: 0o644, mtime: 0)
        let sink = try SparseFileSink(path: path)
        let writer = TarWriter(sink: sink)
        try writer.append(entry, contentFrom: ZeroSource(count: Self.size), describedAs: "huge.bin")
        try writer.append(TarEntry(path: TarTest.path("after"), kind: .regular(size: 2), mode: 0o644, mtime: 0),
                          contentFrom: ArraySource([0x68, 0x69]), describedAs: "after")
        try writer.finish()
        // The whole 8 GiB went through the writer; the process never held more than a sliver of it.
        #expect(Self.peakResidentKiB() < 1024 * 1024, "peak RSS \(Self.peakResidentKiB()) KiB")

        // Our reader: the size comes from the PAX record, the next entry is found after the content.
        let reader = TarReader(source: FileSource(file: try OpenFile(path: path, flags: O_RDONLY)))
        let first = try #require(try reader.next())
        #expect(first.kind == .regular(size: Self.size))
        let second = try #require(try reader.next())
        #expect(second.path.description == "after")
        #expect(try reader.readAll() == [0x68, 0x69])
        #expect(try reader.next() == nil)

        // GNU tar and bsdtar agree on the size.
        let gnu = try Command.run(["tar", "-tvf", path], environment: ["LC_ALL": "C.UTF-8", "TZ": "UTC", "PATH": "/usr/bin:/bin"])
        #expect(gnu.status == 0, "\(gnu.stderr)")
        #expect(gnu.stdout.contains(" \(Self.size) "), "\(gnu.stdout)")
        let bsd = try Command.run(["bsdtar", "-tvf", path])
        #expect(bsd.status == 0, "\(bsd.stderr)")
        #expect(bsd.stdout.contains("\(Self.size)"), "\(bsd.stdout)")
    }
}
