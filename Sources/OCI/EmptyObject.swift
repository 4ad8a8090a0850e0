// Image configuration, ExposedPorts and Volumes (maps to {}): https://github.com/opencontainers/image-spec/blob/v1.1.0/config.md#properties

/// The JSON value `{}`, used where the spec maps keys to empty objects.
public struct EmptyObject: Sendable, Hashable, Codable {
    public init() {}
}
