import Foundation
import OCI
import Registry
import RegistryTestSupport
import Testing

/// A registry that sends or reports other bytes than asked for is refused, and nothing it
/// sent is kept.
@Suite struct DigestCheckTests {
    @Test func aTamperedBlobIsRefusedAndLeavesNoFile() async throws {
        let harness = try Harness()
        let blob = try harness.blob(5000)
        harness.registry.put(blob: blob.bytes, in: "team/app")
        harness.registry.inject(.tamperResponse) { $0.method == "GET" && $0.path.contains("/blobs/") }
        let target = harness.folder + "/pulled"
        let error = await #expect(throws: RegistryError.self) {
            try await harness.client.pullBlob("team/app", digest: blob.digest, size: blob.size, to: target)
        }
        #expect(error?.description.hasPrefix("the registry reg.test gave the bytes of blob \(blob.digest) of team/app as sha256:") == true)
        #expect(error?.description.hasSuffix("refusing it") == true, "\(String(describing: error))")
        #expect(!FileManager.default.fileExists(atPath: target))
    }

    @Test func aBlobLongerThanItsSizeIsRefused() async throws {
        let harness = try Harness()
        let blob = try harness.blob(5000)
        harness.registry.put(blob: blob.bytes, in: "team/app")
        let target = harness.folder + "/pulled"
        let error = await #expect(throws: RegistryError.self) {
            try await harness.client.pullBlob("team/app", digest: blob.digest, size: 4000, to: target)
        }
        #expect(error?.description.contains("more bytes than its 4000") == true, "\(String(describing: error))")
        #expect(!FileManager.default.fileExists(atPath: target))
    }

    @Test func aManifestWhoseBytesOrReportedDigestDifferIsRefused() async throws {
        let harness = try Harness()
        let manifest = Harness.manifest(config: FakeRegistry.digest([1]), layers: [])
        let digest = harness.registry.put(manifest: manifest, in: "team/app", tag: "v1")
        harness.registry.inject(.tamperResponse) { $0.path.contains("/manifests/") }
        let byDigest = await #expect(throws: RegistryError.self) { try await harness.client.manifest("team/app", reference: digest.description) }
        #expect(byDigest?.description.hasPrefix("the registry reg.test gave manifest reg.test/team/app@\(digest) as sha256:") == true,
                "\(String(describing: byDigest))")
        let wrong = "sha256:" + String(repeating: "0", count: 64)
        harness.registry.inject(.header("Docker-Content-Digest", wrong)) { $0.path.contains("/manifests/") }
        let byTag = await #expect(throws: RegistryError.self) { try await harness.client.manifest("team/app", reference: "v1") }
        #expect(byTag?.description == "the registry reg.test gave the digest of manifest reg.test/team/app:v1 as \(wrong), not \(digest); refusing it")
    }

    @Test func aRegistryReportingAnotherDigestForWhatWasPushedIsRefused() async throws {
        let harness = try Harness()
        let wrong = "sha256:" + String(repeating: "0", count: 64)
        let blob = try harness.blob(2000)
        harness.registry.inject(.header("Docker-Content-Digest", wrong)) { $0.method == "PUT" }
        let pushed = await #expect(throws: RegistryError.self) { try await harness.push(blob) }
        #expect(pushed?.description == "the registry reg.test gave the uploaded blob \(blob.digest) as \(wrong), not \(blob.digest); refusing it")

        let manifest = Harness.manifest(config: blob.digest, layers: [])
        harness.registry.inject(.header("Docker-Content-Digest", wrong)) { $0.method == "PUT" }
        let put = await #expect(throws: RegistryError.self) {
            try await harness.client.putManifest("team/app", reference: "v1", bytes: manifest, mediaType: .imageManifest)
        }
        #expect(put?.description.contains("gave the manifest \(FakeRegistry.digest(manifest)) as \(wrong)") == true, "\(String(describing: put))")
    }
}
