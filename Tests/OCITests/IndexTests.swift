import Testing
@testable import OCI

@Suite struct IndexTests {
    func descriptor(_ fill: Character) throws -> Descriptor {
        Descriptor(mediaType: .imageManifest, digest: try Digest(parsing: "sha256:" + String(repeating: fill, count: 64)), size: 1)
    }

    @Test func namesImagesAndKeepsOneEntryPerName() throws {
        var index = Index(manifests: [])
        index.setManifest(try descriptor("a"), named: "web")
        index.setManifest(try descriptor("b"), named: "base")
        index.setManifest(try descriptor("c"), named: "web")
        #expect(index.refNames == ["base", "web"])
        #expect(index.manifest(named: "web")?.digest.encoded.first == "c")
        #expect(index.manifest(named: "base")?.annotations?[AnnotationKey.refName] == "base")
        #expect(index.manifest(named: "nope") == nil)
    }

    @Test func entryOrderDoesNotDependOnBuildOrder() throws {
        var first = Index(manifests: [])
        first.setManifest(try descriptor("a"), named: "app")
        first.setManifest(try descriptor("b"), named: "base")
        var second = Index(manifests: [])
        second.setManifest(try descriptor("b"), named: "base")
        second.setManifest(try descriptor("a"), named: "app")
        #expect(try CanonicalJSON.encode(first) == CanonicalJSON.encode(second))
    }
}
