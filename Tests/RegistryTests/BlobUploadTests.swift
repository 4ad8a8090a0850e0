import Foundation
import OCI
import Registry
import RegistryTestSupport
import Synchronization
import Testing

/// Chunked uploads that resume, sessions that are lost, completions whose answer is lost.
@Suite struct BlobUploadTests {
    /// 5 chunks of 1 KiB and a bit.
    static func chunked() throws -> Harness { try Harness(monolithicLimit: 1024, chunkSize: 1024) }

    static func isPatch(_ request: FakeRegistry.Request) -> Bool { request.method == "PATCH" }

    @Test func aChunkedUploadSendsEachChunkOnceInOneSession() async throws {
        let harness = try Self.chunked()
        let blob = try harness.blob(4500)
        #expect(try await harness.push(blob) == .uploaded)
        #expect(harness.registry.blob(blob.digest, in: "team/app") == blob.bytes)
        let patches = harness.registry.requests.filter(Self.isPatch)
        #expect(patches.compactMap { $0.header("Content-Range") } == ["0-1023", "1024-2047", "2048-3071", "3072-4095", "4096-4499"])
        #expect(harness.registry.requests.filter { $0.method == "POST" }.count == 1)
    }

    @Test func aChunkCutOffMidwayResumesFromTheRangeTheRegistryHas() async throws {
        let harness = try Self.chunked()
        let blob = try harness.blob(4500)
        // The second chunk: 300 of its bytes reach the registry, then the connection drops.
        harness.registry.inject(.dropAfterBodyBytes(300)) { $0.method == "PATCH" && $0.header("Content-Range") == "1024-2047" }
        #expect(try await harness.push(blob) == .uploaded)
        #expect(harness.registry.blob(blob.digest, in: "team/app") == blob.bytes)
        let requests = harness.registry.requests
        // Asked where the upload stands, then went on from byte 1324, in the same session.
        #expect(requests.filter { $0.method == "GET" && $0.path.contains("/uploads/") }.count == 1)
        #expect(requests.filter(Self.isPatch).compactMap { $0.header("Content-Range") }
            == ["0-1023", "1024-2047", "1324-2347", "2348-3371", "3372-4395", "4396-4499"])
        #expect(requests.filter { $0.method == "POST" }.count == 1)
    }

    @Test func aRefusedChunkIsSentAgainFromWhereTheRegistryStands() async throws {
        let harness = try Self.chunked()
        let blob = try harness.blob(3000)
        harness.registry.inject(.status(503)) { $0.method == "PATCH" && $0.header("Content-Range") == "1024-2047" }
        #expect(try await harness.push(blob) == .uploaded)
        #expect(harness.registry.blob(blob.digest, in: "team/app") == blob.bytes)
        #expect(harness.registry.requests.filter(Self.isPatch).compactMap { $0.header("Content-Range") }
            == ["0-1023", "1024-2047", "1024-2047", "2048-2999"])
    }

    @Test func aSessionTheRegistryLostStartsOver() async throws {
        let harness = try Self.chunked()
        let blob = try harness.blob(3000)
        harness.registry.inject(.drop) { $0.method == "PATCH" && $0.header("Content-Range") == "1024-2047" }
        // The registry has forgotten the session by the time bake asks after it.
        harness.registry.inject(.status(404)) { $0.method == "GET" && $0.path.contains("/uploads/") }
        #expect(try await harness.push(blob) == .uploaded)
        #expect(harness.registry.blob(blob.digest, in: "team/app") == blob.bytes)
        let requests = harness.registry.requests
        #expect(requests.filter { $0.method == "POST" }.count == 2)
        #expect(requests.filter(Self.isPatch).compactMap { $0.header("Content-Range") }
            == ["0-1023", "1024-2047", "0-1023", "1024-2047", "2048-2999"])
    }

    @Test func aCompletionWhoseAnswerWasLostIsSettledByHead() async throws {
        let harness = try Self.chunked()
        let blob = try harness.blob(3000)
        // The registry stores the blob, but bake never hears so; the PUT sent again finds no
        // session (404), and HEAD says the blob is there.
        harness.registry.inject(.dropAfterHandling) { $0.method == "PUT" }
        #expect(try await harness.push(blob) == .uploaded)
        let tail = harness.registry.registryRequests.suffix(3).map { "\($0.method) \($0.path.contains("/uploads/") ? "upload" : "blob")" }
        #expect(tail == ["PUT upload", "PUT upload", "HEAD blob"])
        #expect(harness.registry.blob(blob.digest, in: "team/app") == blob.bytes)
    }

    @Test func aMonolithicUploadThatFailsStartsANewSession() async throws {
        let harness = try Harness()
        let blob = try harness.blob(2000)
        harness.registry.inject(.drop) { $0.method == "PUT" }
        harness.registry.inject(.status(500)) { $0.method == "PUT" }
        #expect(try await harness.push(blob) == .uploaded)
        #expect(harness.registry.requests.filter { $0.method == "POST" }.count == 3)
        #expect(harness.registry.blob(blob.digest, in: "team/app") == blob.bytes)
        #expect(harness.pauses == [0.25, 0.5])
    }

    @Test func aBlobTheRepositoryHasOrCanMountIsNotSentOrChecked() async throws {
        let harness = try Harness()
        let blob = try harness.blob(2000)
        harness.registry.put(blob: blob.bytes, in: "team/base")
        let checked = Checked()
        let mounted = try await harness.client.pushBlob(
            "team/app", digest: blob.digest, size: blob.size, file: blob.path, mountFrom: ["team/base"],
            beforeUpload: { checked.mark() })
        #expect(mounted == .mounted)
        let existed = try await harness.client.pushBlob(
            "team/app", digest: blob.digest, size: blob.size, file: blob.path, beforeUpload: { checked.mark() })
        #expect(existed == .existed)
        #expect(!checked.marked)
        #expect(!harness.registry.requests.contains { $0.method == "PUT" || $0.method == "PATCH" })
    }

    @Test func blobsPushedAtOnceAreSentAtOnce() async throws {
        let harness = try Harness()
        var blobs: [Harness.BlobFile] = []
        for seed in 1...4 { blobs.append(try harness.blob(5000, seed: UInt8(seed))) }
        for blob in blobs { harness.registry.put(blob: blob.bytes, in: "team/base") }
        // Downloads wait at the registry until all four are under way.
        harness.registry.holdDownloads(until: 4)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for blob in blobs {
                group.addTask {
                    try await harness.client.pullBlob("team/base", digest: blob.digest, size: blob.size, to: harness.folder + "/p-" + blob.digest.encoded)
                }
            }
            try await group.waitForAll()
        }
        #expect(!harness.registry.holdTimedOut)
        #expect(harness.registry.mostDownloadsInFlight == 4)
    }
}

/// Whether a check ran.
final class Checked: Sendable {
    private let flag = Mutex(false)
    func mark() { flag.withLock { $0 = true } }
    var marked: Bool { flag.withLock { $0 } }
}
