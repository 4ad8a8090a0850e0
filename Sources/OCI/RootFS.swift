// Image configuration, rootfs: https://github.com/opencontainers/image-spec/blob/v1.1.0/config.md#properties

/// The `rootfs` object: the ordered layer diffIDs.
public struct RootFS: Sendable, Hashable, Codable {
    /// Always `layers`.
    public var type: String
    /// Uncompressed layer digests, base first.
    public var diffIDs: [Digest]

    public init(diffIDs: [Digest]) {
        self.type = "layers"
        self.diffIDs = diffIDs
    }

    enum CodingKeys: String, CodingKey {
        case type
        case diffIDs = "diff_ids"
    }
}
