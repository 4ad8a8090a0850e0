// Layer media types: https://github.com/opencontainers/image-spec/blob/v1.1.0/layer.md#distributable-format

/// Compression of a layer blob.
public enum LayerCompression: Sendable, Hashable {
    case none
    case gzip
    case zstd
}
