import Foundation
import Testing
@testable import OCI

@Suite struct CanonicalJSONTests {
    struct Keys: Encodable {
        var b = 1
        var B = 2
        var a10 = 3
        var a9 = 4
        var _x = 5
        var url = "https://example.com/a/b"
        var nested = ["z": 1, "Z": 2, "é": 3, "a": 4]
    }

    @Test func sortsKeysByTheirBytesWithoutWhitespaceOrEscapedSlashes() throws {
        let text = String(decoding: try CanonicalJSON.encode(Keys()), as: UTF8.self)
        // Byte order: 'B' (0x42) < '_' (0x5f) < 'a' (0x61); "a10" < "a9"; 'é' (0xc3 0xa9) last.
        #expect(text == #"{"B":2,"_x":5,"a10":3,"a9":4,"b":1,"nested":{"Z":2,"a":4,"z":1,"é":3},"url":"https://example.com/a/b"}"#)
    }

    @Test func dictionaryOrderNeverLeaks() throws {
        // Many keys: a dictionary's iteration order differs between instances and runs.
        var first: [String: Int] = [:]
        var second: [String: Int] = [:]
        for index in 0..<200 { first["key\(index)"] = index }
        for index in (0..<200).reversed() { second["key\(index)"] = index }
        #expect(try CanonicalJSON.encode(first) == CanonicalJSON.encode(second))
    }

    @Test func manifestHasTheExpectedCanonicalForm() throws {
        let config = Descriptor(mediaType: .imageConfig, digest: try Digest(parsing: "sha256:" + String(repeating: "a", count: 64)), size: 7)
        let layer = Descriptor(mediaType: .layerTarGzip, digest: try Digest(parsing: "sha256:" + String(repeating: "b", count: 64)), size: 9)
        let manifest = Manifest(config: config, layers: [layer], annotations: ["org.opencontainers.image.base.name": "base"])
        let text = String(decoding: try CanonicalJSON.encode(manifest), as: UTF8.self)
        #expect(text == #"{"annotations":{"org.opencontainers.image.base.name":"base"},"config":{"digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","mediaType":"application/vnd.oci.image.config.v1+json","size":7},"layers":[{"digest":"sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":9}],"mediaType":"application/vnd.oci.image.manifest.v1+json","schemaVersion":2}"#)
    }

    @Test func imageConfigUsesTheSpecsKeyNames() throws {
        var container = ContainerConfig()
        container.exposedPorts = ["8080/tcp": EmptyObject()]
        container.workingDir = "/srv"
        let config = ImageConfig(
            created: "1970-01-01T00:00:00Z", architecture: "amd64", os: "linux", config: container,
            rootfs: RootFS(diffIDs: []), history: [History(created: nil, createdBy: "x", emptyLayer: true)]
        )
        let text = String(decoding: try CanonicalJSON.encode(config), as: UTF8.self)
        #expect(text.contains(#""ExposedPorts":{"8080/tcp":{}}"#))
        #expect(text.contains(#""WorkingDir":"/srv""#))
        #expect(text.contains(#""rootfs":{"diff_ids":[],"type":"layers"}"#))
        #expect(text.contains(#""created_by":"x""#))
        #expect(text.contains(#""empty_layer":true"#))
        let decoded = try CanonicalJSON.decode(ImageConfig.self, from: Array(text.utf8), kind: "config")
        #expect(decoded == config)
    }

    @Test func prettyOutputOnlyReindents() throws {
        let value = ["list": [1, 2], "empty": [Int](), "object": [] as [Int]]
        let pretty = String(decoding: try CanonicalJSON.encodePretty(value), as: UTF8.self)
        #expect(pretty == "{\n  \"empty\": [],\n  \"list\": [\n    1,\n    2\n  ],\n  \"object\": []\n}")
        let reparsed = try JSONSerialization.jsonObject(with: Data(pretty.utf8)) as? [String: [Int]]
        #expect(reparsed == value)
        // Structural characters inside strings are left alone.
        let tricky = String(decoding: try CanonicalJSON.encodePretty(["k": "a,{b}:[c]\"d"]), as: UTF8.self)
        #expect(tricky == "{\n  \"k\": \"a,{b}:[c]\\\"d\"\n}")
    }
}
