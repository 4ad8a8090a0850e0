import Foundation
import Testing
import TestSupport
@testable import Layers

/// Archives made to break the reader or the extractor: each must be refused with an error,
/// never crash, never write outside the root.
@Suite struct HostileArchiveTests {
    /// A ustar header block with raw fields, for inputs our writer would never produce.
    static func header(name: String, typeflag: UInt8 = TarHeader.TypeFlag.regular, size: Int64 = 0) -> [UInt8] {
        var block = [UInt8](repeating: 0, count: 512)
        TarHeader.putBytes(Array(name.utf8), TarHeader.Field.name, into: &block)
        TarHeader.putOctal(0o644, TarHeader.Field.mode, into: &block)
        TarHeader.putOctal(0, TarHeader.Field.uid, into: &block)
        TarHeader.putOctal(0, TarHeader.Field.gid, into: &block)
        TarHeader.putOctal(size, TarHeader.Field.size, into: &block)
        TarHeader.putOctal(0, TarHeader.Field.mtime, into: &block)
        block[TarHeader.Field.typeflag] = typeflag
        TarHeader.putBytes(TarHeader.ustarMagic, TarHeader.Field.magic, into: &block)
        TarHeader.putBytes(TarHeader.ustarVersion, TarHeader.Field.version, into: &block)
        TarHeader.putChecksum(into: &block)
        return block
    }

    static func pax(_ records: String) -> [UInt8] {
        let data = Array(records.utf8)
        var bytes = header(name: "PaxHeaders/x", typeflag: TarHeader.TypeFlag.paxLocal, size: Int64(data.count)) + data
        bytes += [UInt8](repeating: 0, count: (512 - data.count % 512) % 512)
        return bytes
    }

    static let end = [UInt8](repeating: 0, count: 1024)

    static let malformed: [(String, [UInt8])] = {
        var cases: [(String, [UInt8])] = []
        var bytes: [UInt8] = pax("8 uid=7\n9223372036854775807 path=x\n")
        bytes += header(name: "f")
        bytes += end
        cases.append(("a PAX record length near Int64.max", bytes))
        bytes = pax("29 size=9223372036854775807\n")
        bytes += header(name: "f")
        bytes += end
        cases.append(("a PAX size near Int64.max", bytes))
        bytes = pax("29 size=9223372036854775000\n")
        bytes += header(name: "d/", typeflag: TarHeader.TypeFlag.directory)
        bytes += end
        cases.append(("a folder with an enormous size", bytes))
        cases.append(("a PAX header with no entry after it", pax("12 path=abc\n")))
        bytes = pax("-5 path=x\n")
        bytes += header(name: "f")
        bytes += end
        cases.append(("a record with a negative length", bytes))
        bytes = pax("14 size=12x45\n")
        bytes += header(name: "f")
        bytes += end
        cases.append(("a size that is not a number", bytes))
        // Linux cannot hold it: the target would be cut at the NUL when written out, so the
        // image would say one thing and its exports another.
        bytes = pax("19 linkpath=etc/\u{0}b\n")
        bytes += header(name: "lnk", typeflag: TarHeader.TypeFlag.symlink)
        bytes += end
        cases.append(("a symlink target with a NUL byte", bytes))
        return cases
    }()

    @Test(arguments: malformed)
    func malformedHeadersAreErrorsNotCrashes(_ what: String, _ bytes: [UInt8]) {
        #expect(throws: LayersError.self, "\(what)") { _ = try TarTest.read(bytes) }
    }

    @Test(arguments: [".wh.", ".wh..", ".wh...", "dir/.wh..", ".wh..wh.plnk"])
    func whiteoutsThatNameNothingAreRefused(_ name: String) throws {
        let bytes = try TarTest.archive([TarTest.item(name, .regular(size: 0), mode: 0o600)])
        #expect(throws: LayersError.self) { _ = try TarTest.read(bytes) }
    }

    @Test func aDotDotWhiteoutCannotEscapeAnExtraction() throws {
        let dir = TemporaryDirectory()
        try Fixture.write(dir.at("precious.txt"), "keep me")
        try Fixture.mkdir(dir.at("root"))
        let bytes = try TarTest.archive([TarTest.file("hello", "hi"), TarTest.item(".wh...", .regular(size: 0), mode: 0o600)])
        let extractor = try TreeExtractor(root: dir.at("root"), whiteouts: .apply)
        #expect(throws: LayersError.self) { try extractor.extract(layer: TarReader(source: ArraySource(bytes))) }
        #expect(try Fixture.read(dir.at("precious.txt")) == "keep me")
    }

    @Test func xattrNamesATarHeaderCannotHoldAreRefused() {
        let item = TarTest.item("f", .regular(size: 0), mode: 0o644, xattrs: ["user.a=b": [1]])
        #expect(throws: LayersError.self) { _ = try TarTest.archive([item]) }
    }

    /// Flips bytes of valid archives at pseudo-random places: the reader may accept or
    /// refuse each mutant, but must never trap (overflow, out of range, precondition).
    @Test func mutatedArchivesNeverCrashTheReader() throws {
        let seeds = [
            try TarTest.archive(TarRoundTripTests.edgeCases),
            Self.pax("30 path=some/long/name/here\n") + Self.header(name: "f", size: 3) + Array("abc".utf8) + [UInt8](repeating: 0, count: 509) + Self.end,
        ]
        var state: UInt64 = 0x2545F4914F6CDD1D
        func next() -> Int {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return Int(truncatingIfNeeded: state & 0x7fff_ffff)
        }
        var accepted = 0
        var refused = 0
        for round in 0..<3000 {
            var bytes = seeds[round % seeds.count]
            for _ in 0..<(1 + next() % 4) {
                let index = next() % bytes.count
                // Mostly digits, spaces and high bytes: what breaks number parsing.
                let choices: [UInt8] = [0x37, 0x39, 0x20, 0x00, 0xff, 0x80, 0x3d, 0x0a, UInt8(next() & 0xff)]
                bytes[index] = choices[next() % choices.count]
            }
            // Keep headers' checksums valid half of the time so mutations reach the parser.
            if round % 2 == 0 {
                var offset = 0
                while offset + 512 <= bytes.count {
                    var block = Array(bytes[offset..<(offset + 512)])
                    if block[257..<263].elementsEqual(TarHeader.ustarMagic) {
                        TarHeader.putChecksum(into: &block)
                        bytes.replaceSubrange(offset..<(offset + 512), with: block)
                    }
                    offset += 512
                }
            }
            do {
                _ = try TarTest.read(bytes)
                accepted += 1
            } catch {
                refused += 1
            }
        }
        #expect(accepted + refused == 3000)
        #expect(refused > 0)
    }
}
