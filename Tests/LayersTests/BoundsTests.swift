import Foundation
import Glibc
import Testing
import TestSupport
@testable import Layers

/// What the reader and the file system helpers bound or survive: extended headers that
/// would grow memory, paths Linux cannot use, trees too deep or too long to remove by path,
/// inputs that are not regular files (issue 14).
@Suite struct BoundsTests {
    static func pax(_ key: String, valueBytes: Int, global: Bool = false) -> [UInt8] {
        let value = [UInt8](repeating: 0x61, count: valueBytes)
        let record = TarWriter.paxRecord(key: Array(key.utf8), value: value)
        var bytes = HostileArchiveTests.header(
            name: "PaxHeaders/x", typeflag: global ? TarHeader.TypeFlag.paxGlobal : TarHeader.TypeFlag.paxLocal,
            size: Int64(record.count)) + record
        bytes += [UInt8](repeating: 0, count: (512 - record.count % 512) % 512)
        return bytes
    }

    @Test func anExtendedHeaderOverOneMiBIsRefusedNamingItsEntry() throws {
        let bytes = Self.pax("comment", valueBytes: 2 << 20) + HostileArchiveTests.header(name: "etc/big") + HostileArchiveTests.end
        do {
            _ = try TarTest.read(bytes)
            Issue.record("a 2 MiB extended header was accepted")
        } catch let error as LayersError {
            #expect("\(error)" == "refusing archive entry 'etc/big': its extended headers hold 2 MiB; bake accepts at most 1 MiB of them per entry")
        }
    }

    @Test func manySmallHeadersForOneEntryAddUpAndAreRefused() throws {
        var bytes: [UInt8] = []
        for index in 0..<40 { bytes += Self.pax("bake.k\(index)", valueBytes: 30_000) }
        bytes += HostileArchiveTests.header(name: "f") + HostileArchiveTests.end
        #expect(throws: LayersError.self) { _ = try TarTest.read(bytes) }
    }

    @Test func globalHeadersAddUpAcrossTheArchive() throws {
        var bytes: [UInt8] = []
        for index in 0..<40 {
            bytes += Self.pax("bake.g\(index)", valueBytes: 30_000, global: true)
            bytes += HostileArchiveTests.header(name: "f\(index)")
        }
        bytes += HostileArchiveTests.end
        #expect(throws: LayersError.self) { _ = try TarTest.read(bytes) }
    }

    @Test func headersWithinTheBoundAreRead() throws {
        let item = TarTest.item("f", .regular(size: 0), mode: 0o644, xattrs: ["user.big": [UInt8](repeating: 7, count: 900_000)])
        let read = try TarTest.read(try TarTest.archive([item]))
        #expect(read.first?.entry.xattrs["user.big"]?.count == 900_000)
    }

    @Test func aPathLongerThanLinuxAllowsIsRefused() throws {
        let long = (0..<1500).map { _ in "abc" }.joined(separator: "/")  // 5999 bytes
        let bytes = try TarTest.archive([TarTest.file(long, "x")])
        do {
            _ = try TarTest.read(bytes)
            Issue.record("a 6 KB path was accepted")
        } catch let error as LayersError {
            #expect("\(error)".hasPrefix("refusing archive entry 'abc/abc/"), "\(error)")
            #expect("\(error)".hasSuffix("... (5999 bytes)': its path is 6000 bytes long; Linux paths are at most 4095"), "\(error)")
        }
        let longName = String(repeating: "n", count: 256)
        #expect(throws: LayersError.self) { _ = try TarTest.read(try TarTest.archive([TarTest.file("dir/" + longName, "x")])) }
        let fits = (0..<1023).map { _ in "abc" }.joined(separator: "/")  // 4091 bytes
        #expect(try TarTest.read(try TarTest.archive([TarTest.file(fits, "x")])).count == 1)
    }

    /// Makes `levels` nested folders `d/d/d/...` below `root` with openat (the whole path
    /// is far longer than PATH_MAX), a file at the bottom, a read-only folder on the way.
    static func deepTree(_ root: String, levels: Int) throws {
        var fd = open(root, O_RDONLY | O_DIRECTORY)
        for level in 0..<levels {
            let name = level == 0 ? "top" : "folder-\(level)"
            guard mkdirat(fd, name, 0o755) == 0 else { throw FixtureError("mkdirat: errno \(errno)") }
            let next = openat(fd, name, O_RDONLY | O_DIRECTORY)
            close(fd)
            fd = next
        }
        let file = openat(fd, "bottom", O_WRONLY | O_CREAT, 0o644)
        close(file)
        fchmod(fd, 0o500)
        close(fd)
    }

    @Test func removeTreeRemovesATreeOfAnyDepthAndPathLength() throws {
        let dir = TemporaryDirectory()
        try Self.deepTree(dir.path, levels: 1200)  // ~12 KB of path, three times PATH_MAX
        try FileSystem.removeTree(dir.at("top"))
        #expect(!FileManager.default.fileExists(atPath: dir.at("top")))
    }

    @Test func removeTreeRemovesASymlinkNotWhatItPointsTo() throws {
        let dir = TemporaryDirectory()
        try Fixture.write(dir.at("kept/file"), "keep")
        try Fixture.mkdir(dir.at("tree"))
        try Fixture.symlink(dir.at("kept"), at: dir.at("tree/link"))
        try FileSystem.removeTree(dir.at("tree"))
        #expect(!FileManager.default.fileExists(atPath: dir.at("tree")))
        #expect(try Fixture.read(dir.at("kept/file")) == "keep")
    }

    @Test func aLeftoverTooDeepForPathsNeverStopsTheStore() throws {
        let dir = TemporaryDirectory()
        let store = ContentStore(root: dir.at("store"))
        try store.create()
        try Fixture.mkdir(store.temporaryPath + "/rootfs-XYZ")
        try Self.deepTree(store.temporaryPath + "/rootfs-XYZ", levels: 1200)
        #expect(store.removeTemporaryFiles().isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.temporaryPath).isEmpty)
    }

    @Test(arguments: ["fifo", "folder", "device"])
    func inputsThatAreNotRegularFilesAreRefusedWithoutWaiting(_ kind: String) throws {
        let dir = TemporaryDirectory()
        let path: String
        switch kind {
        case "fifo":
            path = dir.at("pipe")
            #expect(mkfifo(path, 0o644) == 0)
        case "folder":
            path = dir.at("folder")
            try Fixture.mkdir(path)
        default:
            path = "/dev/zero"
        }
        do {
            _ = try FileSystem.readFile(path)
            Issue.record("\(kind) was read")
        } catch let error as LayersError {
            guard case .notRegularFile = error else {
                Issue.record("\(error)")
                return
            }
        }
    }

    @Test func aBlobThatIsASymlinkToADeviceIsRefused() throws {
        let dir = TemporaryDirectory()
        let store = ContentStore(root: dir.at("store"))
        try store.create()
        let digest = try store.ingest(Array("hello".utf8))
        unlink(store.blobPath(digest))
        try Fixture.symlink("/dev/zero", at: store.blobPath(digest))
        #expect(throws: LayersError.self) { try store.verifyBlob(digest, what: "blob") }
    }
}
