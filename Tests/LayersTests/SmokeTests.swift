import Testing
import Foundation
@testable import Layers
import OCI

@Suite struct SmokeTests {
    @Test func tarGzipRoundTripThroughSystemTools() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bake-smoke-\(getpid())").path
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let out = try OpenFile(path: dir + "/x.tar.gz", flags: O_WRONLY | O_CREAT | O_TRUNC)
        let sink = FileSink(file: out, sync: false)
        let gz = GzipSink(downstream: sink, threads: 2)
        let tar = TarWriter(sink: gz)
        try tar.append(TarEntry(path: try RelativePath("etc"), kind: .directory, mode: 0o755, mtime: 5))
        let content = Array(repeating: Array("hello world\n".utf8), count: 40000).flatMap { $0 }
        try tar.append(TarEntry(path: try RelativePath("etc/hello"), kind: .regular(size: Int64(content.count)), mode: 0o644, mtime: 5), contentFrom: ArraySource(content), describedAs: "hello")
        let long = String(repeating: "d", count: 150)
        try tar.append(TarEntry(path: try RelativePath("etc/\(long)"), kind: .symlink(target: Array("hello".utf8)), mode: 0o777, mtime: 5))
        try tar.finish()
        try out.close()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "tar -tvzf \(dir)/x.tar.gz"]
        let pipe = Pipe(); p.standardOutput = pipe
        try p.run(); p.waitUntilExit()
        let listing = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        print(listing)
        #expect(p.terminationStatus == 0)
        #expect(listing.contains("etc/hello"))
        let source = try GzipSource(upstream: FileSource(file: OpenFile(path: dir + "/x.tar.gz", flags: O_RDONLY)), describedAs: "x")
        let reader = TarReader(source: source)
        var names: [String] = []
        while let e = try reader.next() { names.append(e.listing); if e.contentSize > 0 { #expect(try reader.readAll() == content) } }
        print(names)
        #expect(names.count == 3)
    }
}
