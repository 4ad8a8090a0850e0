import OCI

/// The image another is built on.
public struct ParentImage: Sendable, Hashable, Codable {
    public var name: String
    public var digest: Digest

    public init(name: String, digest: Digest) {
        self.name = name
        self.digest = digest
    }
}
