// Image configuration: https://github.com/opencontainers/image-spec/blob/v1.1.0/config.md

/// The image configuration: platform, runtime defaults, layer diffIDs and history.
public struct ImageConfig: Sendable, Hashable, Codable {
    /// RFC 3339 creation time (bake: the build time rule of DESIGN.md, never the wall clock).
    public var created: String?
    /// Author of the image.
    public var author: String?
    /// CPU architecture.
    public var architecture: String
    /// Operating system.
    public var os: String
    /// Optional OS version.
    public var osVersion: String?
    /// Optional OS features.
    public var osFeatures: [String]?
    /// Optional CPU variant.
    public var variant: String?
    /// Defaults for a container started from the image.
    public var config: ContainerConfig?
    /// The uncompressed digests of the layers, base first.
    public var rootfs: RootFS
    /// One entry per step that built the image, base first.
    public var history: [History]?

    public init(
        created: String?, architecture: String, os: String, variant: String? = nil,
        config: ContainerConfig?, rootfs: RootFS, history: [History]?
    ) {
        self.created = created
        self.architecture = architecture
        self.os = os
        self.variant = variant
        self.config = config
        self.rootfs = rootfs
        self.history = history
    }

    enum CodingKeys: String, CodingKey {
        case created, author, architecture, os
        case osVersion = "os.version"
        case osFeatures = "os.features"
        case variant, config, rootfs, history
    }
}
