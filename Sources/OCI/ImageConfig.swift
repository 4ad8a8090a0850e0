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

/// Runtime defaults of a container (the `config` object of an image config).
public struct ContainerConfig: Sendable, Hashable, Codable {
    /// `user`, `uid`, `user:group` or `uid:gid`.
    public var user: String?
    /// Ports to expose, keyed `port/tcp` or `port/udp`.
    public var exposedPorts: [String: EmptyObject]?
    /// `NAME=value` entries.
    public var env: [String]?
    /// Program and leading arguments.
    public var entrypoint: [String]?
    /// Default arguments (or program, without an entrypoint).
    public var cmd: [String]?
    /// Mount points.
    public var volumes: [String: EmptyObject]?
    /// Working directory.
    public var workingDir: String?
    /// Labels.
    public var labels: [String: String]?
    /// Signal that stops the container.
    public var stopSignal: String?
    /// Windows only; kept when read.
    public var argsEscaped: Bool?

    public init() {}

    enum CodingKeys: String, CodingKey {
        case user = "User"
        case exposedPorts = "ExposedPorts"
        case env = "Env"
        case entrypoint = "Entrypoint"
        case cmd = "Cmd"
        case volumes = "Volumes"
        case workingDir = "WorkingDir"
        case labels = "Labels"
        case stopSignal = "StopSignal"
        case argsEscaped = "ArgsEscaped"
    }

    /// True when no field is set (encoded as an absent `config`).
    public var isEmpty: Bool { self == ContainerConfig() }
}

/// The JSON value `{}`, used where the spec maps keys to empty objects.
public struct EmptyObject: Sendable, Hashable, Codable {
    public init() {}
}

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

/// One history entry: how a layer (or a config-only change) was made.
public struct History: Sendable, Hashable, Codable {
    /// RFC 3339 creation time.
    public var created: String?
    /// The command that made the layer.
    public var createdBy: String?
    /// Author.
    public var author: String?
    /// A comment.
    public var comment: String?
    /// True when this entry made no layer.
    public var emptyLayer: Bool?

    public init(created: String?, createdBy: String?, comment: String? = nil, emptyLayer: Bool? = nil) {
        self.created = created
        self.createdBy = createdBy
        self.comment = comment
        self.emptyLayer = emptyLayer
    }

    enum CodingKeys: String, CodingKey {
        case created
        case createdBy = "created_by"
        case author, comment
        case emptyLayer = "empty_layer"
    }
}
