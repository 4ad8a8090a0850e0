import Foundation
import Testing
import TestSupport
@testable import Layers

@Suite struct GzipTests {
    /// Mixed compressible and incompressible bytes, not a multiple of the block size.
    static let input: [UInt8] = {
        var state: UInt64 = 0x9e3779b97f4a7c15
        var bytes: [UInt8] = []
        bytes.reserveCapacity(3_000_000)
        let words = ["alpha ", "beta ", "gamma ", "delta\n", "layer ", "digest "].map { Array($0.utf8) }
        while bytes.count < 2_900_017 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            if state >> 60 == 0 {
                for _ in 0..<512 { state = state &* 6364136223846793005 &+ 1; bytes.append(UInt8(truncatingIfNeeded: state >> 33)) }
            } else {
                bytes += words[Int(state >> 61) % words.count]
            }
        }
        return bytes
    }()

    static func compress(_ input: [UInt8], threads: Int, chunk: Int = 65_536) throws -> [UInt8] {
        let sink = ArraySink()
        let gzip = GzipSink(downstream: sink, threads: threads)
        var offset = 0
        while offset < input.count {
            let end = min(offset + chunk, input.count)
            try input[offset..<end].withUnsafeBytes { try gzip.write($0) }
            offset = end
        }
        try gzip.finish()
        return sink.bytes
    }

    @Test func sameBytesWhateverTheThreadCountOrWriteSizes() throws {
        let reference = try Self.compress(Self.input, threads: 1)
        for threads in [2, 3, 8] {
            #expect(try Self.compress(Self.input, threads: threads) == reference, "threads \(threads)")
        }
        #expect(try Self.compress(Self.input, threads: 4, chunk: 7) == reference)
        #expect(try Self.compress(Self.input, threads: 2, chunk: 1 << 20) == reference)
    }

    @Test func headerIsFixed() throws {
        let output = try Self.compress(Array("x".utf8), threads: 1)
        // magic, deflate, no flags, mtime 0, XFL 0, OS 255: nothing about the host or the time.
        #expect(Array(output.prefix(10)) == [0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff])
    }

    @Test(.enabled(if: Host.canRun(tools: ["gzip"])))
    func systemGzipDecompressesIt() throws {
        let dir = TemporaryDirectory()
        try Fixture.write(dir.at("x.gz"), try Self.compress(Self.input, threads: 3))
        let result = try Command.run(["gzip", "-t", dir.at("x.gz")])
        #expect(result.status == 0, "\(result.stderr)")
        _ = try Command.run(["gzip", "-d", dir.at("x.gz")])
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: dir.at("x")))) == Self.input)
    }

    @Test(arguments: [0, 1, GzipSink.blockSize, GzipSink.blockSize + 1, 3 * GzipSink.blockSize])
    func ourReaderRoundTrips(_ count: Int) throws {
        let input = Array(Self.input.prefix(count))
        let compressed = try Self.compress(input, threads: 2)
        let source = try GzipSource(upstream: ArraySource(compressed), describedAs: "test")
        #expect(try source.readAll() == input)
    }

    @Test func readsMultipleMembers() throws {
        let both = try Self.compress(Array("first ".utf8), threads: 1) + Self.compress(Array("second".utf8), threads: 1)
        let source = try GzipSource(upstream: ArraySource(both), describedAs: "test")
        #expect(String(decoding: try source.readAll(), as: UTF8.self) == "first second")
    }

    @Test func truncatedOrCorruptStreamsAreErrors() throws {
        let compressed = try Self.compress(Self.input, threads: 2)
        #expect(throws: LayersError.self) {
            _ = try GzipSource(upstream: ArraySource(Array(compressed.prefix(compressed.count / 2))), describedAs: "t").readAll(limit: 1 << 30)
        }
        var corrupt = compressed
        corrupt[corrupt.count - 6] ^= 0xff  // the CRC
        #expect(throws: LayersError.self) {
            _ = try GzipSource(upstream: ArraySource(corrupt), describedAs: "t").readAll(limit: 1 << 30)
        }
        #expect(throws: LayersError.self) { _ = try GzipSource(upstream: ArraySource([]), describedAs: "t").readAll() }
    }
}
