import Foundation
import Layers
import OCI
@testable import Pipeline
import Provisioners
import Registry
import RegistryTestSupport
import Synchronization
import Testing
import TestSupport

/// Registry bases' manifests and blobs through the command's registry sessions, against the
/// in-memory registry.
@Suite struct RegistryImageFetcherTests {
    /// A registry holding team/base:v1, a manifest of a config and `layers` layers.
    struct Image {
        let registry: FakeRegistry
        let manifest: Digest
        let blobs: [Descriptor]
        let blobBytes: [Digest: [UInt8]]

        init(registry: FakeRegistry, layers: Int) {
            self.registry = registry
            var blobs: [Descriptor] = []
            var bytes: [Digest: [UInt8]] = [:]
            for index in 0...layers {
                let content = (0..<(3000 + index)).map { UInt8(truncatingIfNeeded: $0 &* (index + 3)) }
                let digest = registry.put(blob: content, in: "team/base")
                bytes[digest] = content
                blobs.append(Descriptor(mediaType: index == 0 ? .imageConfig : .layerTarGzip, digest: digest, size: Int64(content.count)))
            }
            let layerList = blobs.dropFirst().map { #"{"mediaType":"\#($0.mediaType)","digest":"\#($0.digest)","size":\#($0.size)}"# }
            let json = #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"\#(blobs[0].digest)","size":\#(blobs[0].size)},"layers":["#
                + layerList.joined(separator: ",") + "]}"
            manifest = registry.put(manifest: Array(json.utf8), in: "team/base", tag: "v1")
            self.blobs = blobs
            blobBytes = bytes
        }
    }

    /// The hosts clients were made for.
    final class Made: Sendable {
        let hosts = Mutex<[String]>([])
        var all: [String] { hosts.withLock { $0 } }
    }

    /// An access whose clients all talk to `registry`, recording the clients made in `made`.
    static func access(_ registry: FakeRegistry, made: Made = Made(), home: TemporaryDirectory) -> RegistryAccess {
        let sessions = RegistrySessions(makeTransport: { key in
            made.hosts.withLock { $0.append(key.host) }
            return registry
        })
        // HOME: no docker config of this machine's user is read.
        return RegistryAccess(insecureHosts: [], credentials: nil, environment: ["HOME": home.path], sessions: sessions)
    }

    /// Runs `body` on a thread of its own, as bake's pipeline calls registries: its blocking
    /// bridge must never hold a thread of the concurrency pool the tests run on.
    static func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async -> Result<T, any Error> {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: Result { try body() }) }.start()
        }
    }

    @Test func aBaseWithSeveralBlobsTakesOneProbeAndOneToken() async throws {
        let image = Image(registry: FakeRegistry(auth: .bearer(nil)), layers: 3)
        let home = TemporaryDirectory("bake-fetch")
        let made = Made()
        let access = Self.access(image.registry, made: made, home: home)
        let reference = try Reference(parsing: "reg.test/team/base:v1")
        let folder = home.at("blobs")
        try Fixture.mkdir(folder)
        // As a registry base is pinned and imported: the tag, the manifest by digest, then
        // the blobs, each step through a fetcher of its own (build and update each make one).
        let manifests = try await Self.onOwnThread {
            defer { access.shutdown() }
            let store = ContentStore(root: home.at("store"))
            let byTag = try RegistryImageFetcher(access: access, store: store).manifest(reference, named: "v1")
            let byDigest = try RegistryImageFetcher(access: access, store: store).manifest(reference, named: byTag.digest.description)
            try RegistryImageFetcher(access: access, store: store).pull(image.blobs, of: reference, into: folder)
            return [byTag, byDigest]
        }.get()
        #expect(manifests.map(\.digest) == [image.manifest, image.manifest])
        for blob in image.blobs {
            #expect(try Array(Data(contentsOf: URL(fileURLWithPath: folder + "/" + blob.digest.encoded))) == image.blobBytes[blob.digest])
        }
        #expect(image.registry.requests.filter(\.isProbe).count == 1)
        #expect(image.registry.requests.filter(\.isToken).count == 1)
        #expect(made.all == ["reg.test"])
        #expect(image.registry.shutdowns == 1)
    }

    @Test func blobsArePulledAtOnceUpToJobs() async throws {
        let image = Image(registry: FakeRegistry(), layers: 7)
        let home = TemporaryDirectory("bake-fetch")
        let access = Self.access(image.registry, home: home)
        let reference = try Reference(parsing: "reg.test/team/base:v1")
        let folder = home.at("blobs")
        try Fixture.mkdir(folder)
        // The registry holds each download until four are under way: pulled one after
        // another, the first would wait in vain.
        image.registry.holdDownloads(until: 4)
        try await Self.onOwnThread {
            defer { access.shutdown() }
            try RegistryImageFetcher(access: access, store: ContentStore(root: home.at("store")), jobs: 4)
                .pull(image.blobs, of: reference, into: folder)
        }.get()
        #expect(!image.registry.holdTimedOut)
        #expect(image.registry.mostDownloadsInFlight == 4, "four at once, never more")
        #expect(image.blobs.allSatisfy { FileManager.default.fileExists(atPath: folder + "/" + $0.digest.encoded) })
    }

    @Test func aBlobThatDoesNotMatchItsDigestFailsThePullAndLeavesNoFile() async throws {
        let image = Image(registry: FakeRegistry(), layers: 3)
        let home = TemporaryDirectory("bake-fetch")
        let access = Self.access(image.registry, home: home)
        let reference = try Reference(parsing: "reg.test/team/base:v1")
        let bad = image.blobs[2].digest
        image.registry.inject(.tamperResponse) { $0.path.hasSuffix(bad.description) && $0.method == "GET" }
        let folder = home.at("blobs")
        try Fixture.mkdir(folder)
        let result = await Self.onOwnThread {
            defer { access.shutdown() }
            try RegistryImageFetcher(access: access, store: ContentStore(root: home.at("store"))).pull(image.blobs, of: reference, into: folder)
        }
        #expect(throws: RegistryError.self) { try result.get() }
        let message = (try? result.get()).map { "no error" } ?? "\(result)"
        #expect(message.contains("blob \(bad)") && message.contains("refusing it"), "\(message)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/" + bad.encoded))
    }

    @Test func theCommandsClientsAreReusedAndShutDownOnce() async throws {
        let registry = FakeRegistry()
        let home = TemporaryDirectory("bake-fetch")
        let made = Made()
        let access = Self.access(registry, made: made, home: home)
        registry.put(manifest: Array("{}".utf8), in: "team/a", tag: "v1")
        let shutdowns = try await Self.onOwnThread {
            for host in ["reg.test", "reg.test", "other.test", "reg.test"] {
                // (other.test is not a registry the fake knows: its client is made all the same.)
                _ = try? access.with(host: host) { client in try await client.tags("team/a") }
            }
            // A copy of the access (as options carry it) shares the clients.
            let copy = access
            _ = try? copy.with(host: "other.test") { client in try await client.tags("team/a") }
            access.shutdown()
            let first = registry.shutdowns
            // Nothing left to close.
            copy.shutdown()
            return [first, registry.shutdowns]
        }.get()
        #expect(made.all == ["reg.test", "other.test"])
        #expect(shutdowns == [2, 2])
    }
}
