// Image configuration, properties of config: https://github.com/opencontainers/image-spec/blob/v1.1.0/config.md#properties

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
    /// Docker's health check (a Docker extension, see `Healthcheck`); absent unless set, so
    /// configs without one keep their bytes.
    public var healthcheck: Healthcheck?
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
        case healthcheck = "Healthcheck"
        case argsEscaped = "ArgsEscaped"
    }

    /// True when no field is set (encoded as an absent `config`).
    public var isEmpty: Bool { self == ContainerConfig() }
}
