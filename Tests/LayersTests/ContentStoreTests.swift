import Foundation
import Testing
import OCI
import TestSupport
@testable import Layers

@Suite struct ContentStoreTests {
    func makeStore() throws -> (TemporaryDirectory, ContentStore) {
        let dir = TemporaryDirectory()
        let store = ContentStore(root: dir.at(".bake"))
        try store.create()
        return (dir, store)
    }

    @Test func createsAValidOCILayout() throws {
        let (dir, store) = try makeStore()
        defer { withExtendedLifetime(dir) {} }
        #expect(try Fixture.read(store.layoutPath + "/oci-layout") == #"{"imageLayoutVersion":"1.0.0"}"#)
        #expect(try Fixture.read(store.layoutPath + "/index.json") == #"{"manifests":[],"mediaType":"application/vnd.oci.image.index.v1+json","schemaVersion":2}"#)
        try store.validateLayout()
    }

    @Test func ingestNamesBlobsByTheirDigestAndLeavesNoTemporaryFile() throws {
        let (dir, store) = try makeStore()
        defer { withExtendedLifetime(dir) {} }
        let digest = try store.ingest(Array("hello".utf8))
        #expect(digest.description == "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
        #expect(try store.readBlob(digest, what: "blob") == Array("hello".utf8))
        #expect(try FileSystem.directoryEntries(Array(store.temporaryPath.utf8)).isEmpty)
        #expect(try FileSystem.lstatPath(store.blobPath(digest)).permissions == 0o644)
    }

    @Test func anAbandonedIngestLeavesNothingBehind() throws {
        let (dir, store) = try makeStore()
        defer { withExtendedLifetime(dir) {} }
        do {
            let ingest = try store.beginIngest()
            try ingest.sink.write(Array("partial".utf8))
        }
        #expect(try FileSystem.directoryEntries(Array(store.temporaryPath.utf8)).isEmpty)
        #expect(try FileSystem.directoryEntries(Array(store.blobsPath.utf8)).isEmpty)
    }

    @Test func aCorruptBlobIsNeverTrusted() throws {
        let (dir, store) = try makeStore()
        defer { withExtendedLifetime(dir) {} }
        let digest = try store.ingest(Array("the real content".utf8))
        try Fixture.write(store.blobPath(digest), "tampered content")
        #expect {
            _ = try store.readBlob(digest, what: "config")
        } throws: { error in
            guard case LayersError.digestMismatch(let expected, _, let what)? = error as? LayersError else { return false }
            return expected == digest && what == "config"
        }
        #expect(throws: LayersError.self) { _ = try store.readBlob(try Digest(parsing: "sha256:" + String(repeating: "0", count: 64)), what: "x") }
    }

    @Test func aLayerIsVerifiedAgainstBothItsDigestAndItsDiffID() throws {
        let (dir, store) = try makeStore()
        defer { withExtendedLifetime(dir) {} }
        let writer = try LayerWriter(store: store, threads: 2)
        try writer.tar.append(TarTest.file("a", "content").entry, contentFrom: ArraySource(Array("content".utf8)), describedAs: "a")
        let blob = try writer.commit()
        let reader = try store.openLayer(blob.descriptor, diffID: blob.diffID)
        #expect(try reader.next()?.path.description == "a")
        #expect(try reader.next() == nil)
        // The right compressed bytes but a wrong diffID claim are caught at the end.
        let wrong = try Digest(parsing: "sha256:" + String(repeating: "1", count: 64))
        let lying = try store.openLayer(blob.descriptor, diffID: wrong)
        _ = try lying.next()
        #expect(throws: LayersError.self) { _ = try lying.next() }
    }

    @Test func layerDigestsAreTheHashesOfTheBytesAndIndependentOfThreads() throws {
        let (dir, store) = try makeStore()
        defer { withExtendedLifetime(dir) {} }
        var results: [LayerBlob] = []
        for threads in [1, 4] {
            let writer = try LayerWriter(store: store, threads: threads)
            for index in 0..<50 {
                let content = Array(String(repeating: "line \(index)\n", count: 5000).utf8)
                try writer.tar.append(TarTest.file("f\(index)", "").entry.with(size: content.count), contentFrom: ArraySource(content), describedAs: "f")
            }
            results.append(try writer.commit())
        }
        #expect(results[0] == results[1])
        let blob = Array(try Data(contentsOf: URL(fileURLWithPath: store.blobPath(results[0].descriptor.digest))))
        #expect(Digest.sha256(blob) == results[0].descriptor.digest)
        #expect(Int64(blob.count) == results[0].descriptor.size)
        let tar = try GzipSource(upstream: ArraySource(blob), describedAs: "t").readAll(limit: 1 << 30)
        #expect(Digest.sha256(tar) == results[0].diffID)
        #expect(Int64(tar.count) == results[0].uncompressedSize)
    }

    @Test func theLockMakesASecondHolderWaitAndSaySo() async throws {
        let (dir, store) = try makeStore()
        defer { withExtendedLifetime(dir) {} }
        var first: StoreLock? = try store.lock(exclusive: true) {}
        let waited = Flag()
        let acquired = Flag()
        let thread = Thread {
            let second = try? store.lock(exclusive: true) { waited.set() }
            acquired.set()
            withExtendedLifetime(second) {}
        }
        thread.start()
        for _ in 0..<200 where !waited.value { try await Task.sleep(for: .milliseconds(10)) }
        #expect(waited.value)
        #expect(!acquired.value)
        #expect(first != nil)
        first = nil  // releases the lock
        for _ in 0..<200 where !acquired.value { try await Task.sleep(for: .milliseconds(10)) }
        #expect(acquired.value)
    }
}

final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var raised = false
    func set() { lock.lock(); raised = true; lock.unlock() }
    var value: Bool { lock.lock(); defer { lock.unlock() }; return raised }
}

extension TarEntry {
    func with(size: Int) -> TarEntry {
        var copy = self
        copy.kind = .regular(size: Int64(size))
        return copy
    }
}
