import OCI
import Testing

@Suite struct ReferenceTests {
    @Test(arguments: [
        ("127.0.0.1:5000/app", "127.0.0.1:5000", "app", nil as String?, nil as String?),
        ("registry.example.com/team/app:454", "registry.example.com", "team/app", "454", nil),
        ("localhost/a/b-c__d.e:v1.2_3", "localhost", "a/b-c__d.e", "v1.2_3", nil),
        ("reg.io:443/x@sha256:" + String(repeating: "ab", count: 32), "reg.io:443", "x", nil, "sha256:" + String(repeating: "ab", count: 32)),
        ("[::1]:5000/app:t@sha256:" + String(repeating: "0", count: 64), "[::1]:5000", "app", "t", "sha256:" + String(repeating: "0", count: 64)),
    ])
    func parses(_ text: String, _ host: String, _ repository: String, _ tag: String?, _ digest: String?) throws {
        let reference = try Reference(parsing: text)
        #expect(reference.host == host)
        #expect(reference.repository == repository)
        #expect(reference.tag == tag)
        #expect(reference.digest?.description == digest)
        #expect(reference.description == text)
    }

    @Test(arguments: [
        ("app", "names no registry host"),
        ("team/app", "is not a registry host"),
        ("reg.io/App", "is not a valid repository path"),
        ("reg.io/app:", "is not a valid tag"),
        ("reg.io/app:-x", "is not a valid tag"),
        ("reg.io/a//b", "is not a valid repository path"),
        ("reg.io/a-", "is not a valid repository path"),
        ("reg.io:99999/a", "is not a registry host"),
        ("reg.io/app@sha256:abc", "is not a digest"),
        ("", "it is empty"),
    ])
    func rejects(_ text: String, _ why: String) {
        #expect {
            try Reference(parsing: text)
        } throws: { error in
            "\(error)".contains(why) && "\(error)".contains("'\(text)'")
        }
    }
}
