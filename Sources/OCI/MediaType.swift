// Media types: https://github.com/opencontainers/image-spec/blob/v1.1.0/media-types.md

/// An IANA-style media type string. Unknown types round-trip unchanged.
public struct MediaType: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible,
    ExpressibleByStringLiteral {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    /// `application/vnd.oci.image.index.v1+json`
    public static let imageIndex: MediaType = "application/vnd.oci.image.index.v1+json"
    /// `application/vnd.oci.image.manifest.v1+json`
    public static let imageManifest: MediaType = "application/vnd.oci.image.manifest.v1+json"
    /// `application/vnd.oci.image.config.v1+json`
    public static let imageConfig: MediaType = "application/vnd.oci.image.config.v1+json"
    /// `application/vnd.oci.image.layer.v1.tar`
    public static let layerTar: MediaType = "application/vnd.oci.image.layer.v1.tar"
    /// `application/vnd.oci.image.layer.v1.tar+gzip`
    public static let layerTarGzip: MediaType = "application/vnd.oci.image.layer.v1.tar+gzip"
    /// `application/vnd.oci.image.layer.v1.tar+zstd`
    public static let layerTarZstd: MediaType = "application/vnd.oci.image.layer.v1.tar+zstd"
    /// Docker schema 2 manifest, accepted when importing.
    public static let dockerManifest: MediaType = "application/vnd.docker.distribution.manifest.v2+json"
    /// Docker manifest list, accepted when importing.
    public static let dockerManifestList: MediaType = "application/vnd.docker.distribution.manifest.list.v2+json"
    /// Docker image config, accepted when importing.
    public static let dockerConfig: MediaType = "application/vnd.docker.container.image.v1+json"
    /// Docker gzip layer, accepted when importing.
    public static let dockerLayerGzip: MediaType = "application/vnd.docker.image.rootfs.diff.tar.gzip"

    /// How a layer of this media type is compressed, or nil if it is not a layer type bake reads.
    public var layerCompression: LayerCompression? {
        switch self {
        case .layerTar: return LayerCompression.none
        case .layerTarGzip, .dockerLayerGzip: return .gzip
        case .layerTarZstd: return .zstd
        default: return nil
        }
    }
}
