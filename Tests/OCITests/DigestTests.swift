import Foundation
import Testing
@testable import OCI

@Suite struct DigestTests {
    static let emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    @Test func parsesAValidDigest() throws {
        let digest = try Digest(parsing: "sha256:\(Self.emptySHA256)")
        #expect(digest.algorithm == .sha256)
        #expect(digest.encoded == Self.emptySHA256)
        #expect(digest.description == "sha256:\(Self.emptySHA256)")
        #expect(digest.short == "e3b0c44298fc")
    }

    @Test(arguments: [
        "",
        "sha256",
        "sha256:",
        "md5:\(emptySHA256)",
        "sha256:\(emptySHA256.uppercased())",
        "sha256:\(emptySHA256)0",
        "sha256:\(emptySHA256.dropLast())",
        "sha256:\(emptySHA256.dropLast())g",
        "SHA256:\(emptySHA256)",
    ])
    func rejectsMalformedDigests(_ text: String) {
        #expect(throws: OCIError.invalidDigest(text)) { try Digest(parsing: text) }
    }

    @Test func decodingValidatesToo() throws {
        let bad = Array(#"{"mediaType":"x","digest":"sha256:nothex","size":1}"#.utf8)
        #expect(throws: OCIError.self) { try CanonicalJSON.decode(Descriptor.self, from: bad, kind: "descriptor") }
        let good = Array(#"{"mediaType":"x","digest":"sha256:\#(Self.emptySHA256)","size":1}"#.utf8)
        #expect(try CanonicalJSON.decode(Descriptor.self, from: good, kind: "descriptor").size == 1)
    }

    @Test func hexEncodesBytes() {
        #expect(Digest.hex([0x00, 0x0f, 0xf0, 0xff]) == "000ff0ff")
    }
}
