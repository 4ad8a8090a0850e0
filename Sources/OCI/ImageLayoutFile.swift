// Image layout, oci-layout file: https://github.com/opencontainers/image-spec/blob/v1.1.0/image-layout.md#oci-layout-file

/// The `oci-layout` file at the root of an image layout.
public struct ImageLayoutFile: Sendable, Hashable, Codable {
    /// `1.0.0`.
    public var imageLayoutVersion: String
    public init(imageLayoutVersion: String = "1.0.0") {
        self.imageLayoutVersion = imageLayoutVersion
    }
}
