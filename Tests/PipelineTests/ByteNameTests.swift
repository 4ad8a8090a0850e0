import Foundation
import Glibc
import Testing
import OCI
import TestSupport
@testable import Layers
@testable import Pipeline

/// File names and symlink targets are bytes, not text (issue 14, item 4): two names that
/// are not UTF-8 and would both decode to U+FFFD are two names, in the listing, the key,
/// the layer and the difference verify shows.
@Suite struct ByteNameTests {
    /// Creates the file `folder/prefix` + `byte`.
    static func make(_ folder: String, _ prefix: String, _ byte: UInt8) throws {
        var name = Array((folder + "/" + prefix).utf8) + [byte]
        name.append(0)
        let fd = name.withUnsafeBufferPointer { open(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), O_WRONLY | O_CREAT, 0o644) }
        guard fd >= 0 else { throw FixtureError("open: errno \(errno)") }
        _ = write(fd, "same\n", 5)
        close(fd)
    }

    static func remove(_ folder: String, _ prefix: String, _ byte: UInt8) {
        var name = Array((folder + "/" + prefix).utf8) + [byte]
        name.append(0)
        _ = name.withUnsafeBufferPointer { unlink(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self)) }
    }

    static func build(_ fixture: ProjectFixture) throws -> BuiltImage {
        let builder = try fixture.builder()
        builder.evaluator.hasher.racySeconds = -1_000_000
        return try #require(try builder.build(BuildOptions(targets: [], sourceDateEpoch: nil, compressionThreads: 2)).first)
    }

    @Test func renamingBetweenTwoNamesThatAreNotUTF8IsAChange() throws {
        let fixture = try ProjectFixture(["images/a/stage.yaml": "from: scratch\nsteps:\n  - copy: sub/\n    to: /sub/\n"])
        let sub = fixture.dir.at("images/a/sub")
        try Fixture.mkdir(sub)
        try Self.make(sub, "name-", 0xff)
        let first = try Self.build(fixture)
        #expect(try fixture.entries(of: first.newLayers[0]).map(\.path.bytes).contains(Array("sub/name-".utf8) + [0xff]))

        Self.remove(sub, "name-", 0xff)
        try Self.make(sub, "name-", 0xfe)
        let second = try Self.build(fixture)
        #expect(second.steps[0].cached == false, "the rename was a stale cache hit")
        let names = try fixture.entries(of: second.newLayers[0]).map(\.path.bytes)
        #expect(names.contains(Array("sub/name-".utf8) + [0xfe]), "\(names)")
        #expect(!names.contains(Array("sub/name-".utf8) + [0xff]))
    }

    @Test func changingASymlinkTargetBetweenTwoNonUTF8TargetsIsAChange() throws {
        let fixture = try ProjectFixture(["images/a/stage.yaml": "from: scratch\nsteps:\n  - copy: sub/\n    to: /sub/\n"])
        let sub = fixture.dir.at("images/a/sub")
        try Fixture.mkdir(sub)
        var link = Array((sub + "/link").utf8)
        link.append(0)
        func point(to byte: UInt8) throws {
            _ = link.withUnsafeBufferPointer { unlink(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self)) }
            var target = Array("target-".utf8) + [byte, 0]
            let rc = target.withUnsafeMutableBufferPointer { t in link.withUnsafeBufferPointer { n in
                symlink(UnsafeRawPointer(t.baseAddress!).assumingMemoryBound(to: CChar.self),
                        UnsafeRawPointer(n.baseAddress!).assumingMemoryBound(to: CChar.self)) } }
            guard rc == 0 else { throw FixtureError("symlink: errno \(errno)") }
        }
        try point(to: 0xff)
        let first = try Self.build(fixture)
        try point(to: 0xfe)
        let second = try Self.build(fixture)
        #expect(second.steps[0].cached == false, "the new target was a stale cache hit")
        let link2 = try fixture.entries(of: second.newLayers[0]).first { $0.path.bytes == Array("sub/link".utf8) }
        #expect(link2?.kind == .symlink(target: Array("target-".utf8) + [0xfe]))
        #expect(first.newLayers[0].diffID != second.newLayers[0].diffID)
    }

    @Test func theListingEncodingIsLosslessAndLeavesTextNamesAlone() {
        #expect(InputListing.encode(Array("assets/site.css".utf8)) == "assets/site.css")
        #expect(InputListing.encode(Array("caf\u{e9}".utf8)) == "caf\u{e9}")
        #expect(InputListing.encode(Array("a b%".utf8)) == "a%20b%25")
        #expect(InputListing.encode(Array("name-".utf8) + [0xff]) == "name-%FF")
        #expect(InputListing.encode(Array("name-".utf8) + [0xfe]) == "name-%FE")
        // A name that is not UTF-8 has every byte above 0x7f encoded, so no two names meet.
        #expect(InputListing.encode(Array("\u{e9}".utf8) + [0xff]) == "%C3%A9%FF")
    }

    @Test func verifyShowsNamesThatAreNotUTF8Distinctly() {
        let one = try! RelativePath(normalizing: Array("name-".utf8) + [0xff])
        let two = try! RelativePath(normalizing: Array("name-".utf8) + [0xfe])
        #expect(one.escapedDescription == "name-\\xff")
        #expect(one.escapedDescription != two.escapedDescription)
        #expect(try! RelativePath("caf\u{e9}/a\\b").escapedDescription == "caf\u{e9}/a\\b")
    }
}
