import Foundation
import Testing
import TestSupport
@testable import Layers
@testable import Pipeline
import OCI
import Provisioners

/// The bytes bake writes for a tiny fixed input, pinned: a change to the tar writer, the
/// compressor, the canonical JSON, the image config or the cache key that forgets to bump
/// `LayerFormat.version` (which every key holds) fails here. When the change is meant,
/// bump the version and pin the new digests.
@Suite struct GoldenBytesTests {
    /// The layer format these pins belong to.
    static let pinnedFormat = "bake-layer-v1 zlib-1.2.13"

    static func layer(threads: Int) throws -> (ContentStore, LayerBlob, TemporaryDirectory) {
        let dir = TemporaryDirectory()
        let store = ContentStore(root: dir.at("store"))
        try store.create()
        let writer = try LayerWriter(store: store, threads: threads)
        try writer.tar.append(TarEntry(path: try RelativePath("srv"), kind: .directory, mode: 0o755, mtime: 1_700_000_000))
        let text = Array("hello, reproducible world\n".utf8)
        try writer.tar.append(TarEntry(path: try RelativePath("srv/hello.txt"), kind: .regular(size: Int64(text.count)), mode: 0o644,
                                       uid: 10001, gid: 10001, mtime: 1_700_000_000),
                              contentFrom: ArraySource(text), describedAs: "hello.txt")
        try writer.tar.append(TarEntry(path: try RelativePath("srv/link"), kind: .symlink(target: Array("hello.txt".utf8)), mode: 0o777,
                                       mtime: 1_700_000_000))
        return (store, try writer.commit(), dir)
    }

    @Test func theLayerFormatIsTheOneThesePinsBelongTo() {
        #expect(CacheKey.format == Self.pinnedFormat, "the layer format changed: pin the digests below anew for it")
    }

    @Test(arguments: [1, 2])
    func aTinyLayerHasPinnedBytes(threads: Int) throws {
        let (_, layer, _) = try Self.layer(threads: threads)
        #expect(layer.diffID.description == "sha256:4cd6c1458c1c6b742b138214681a05fa6da31769446f103d232d9919948dc3ec")
        #expect(layer.descriptor.digest.description == "sha256:8e4f3834f93d174b253952fd8f465757b8d96f735b6680460d32f0f60f4b3a3c")
        #expect(layer.descriptor.size == 185)
    }

    @Test func anImageConfigAndManifestHavePinnedBytes() throws {
        let (_, layer, _) = try Self.layer(threads: 1)
        let fixture = try ProjectFixture([
            "images/app/stage.yaml": """
                from: scratch
                config:
                  env: {APP_ENV: production}
                  cmd: [/srv/hello.txt]
                  labels: {org.opencontainers.image.title: app}

                """,
        ])
        let stage = try #require(try fixture.load().stages["app"])
        let image = try AssembledImage.assemble(stage, base: .scratch(epoch: 1_700_000_000), layers: [layer],
                                                histories: ["copy srv /srv/"], metadata: SourceMetadata())
        #expect(image.manifest.config.digest.description == "sha256:da12856870fd3fd5a7c7d6637a5e787a88b6ed09d6f559eab5c49752169589d8")
        #expect(image.manifestDescriptor.digest.description == "sha256:2c500d361efda80f078b4db870536e1eafe3671cd6ccc7f75be2e6776b8d4706")
    }

    @Test func aCacheKeyHasPinnedBytes() throws {
        let key = try CacheKey(parent: CacheKey.scratch, spec: CopyStep(source: "site/", to: "/srv/app/", mode: 0o640).spec,
                               inputs: Digest.sha256(Array("bake-inputs 1\n".utf8)), secrets: ["b", "a"], network: false,
                               epoch: 1_700_000_000)
        #expect(key.digest.description == "sha256:8c5201e7ca31133523e0a34f8cb158ef0ad9489cb15082509a572c9301c53189")
    }
}
