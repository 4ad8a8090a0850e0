// Docker's health check, a Docker extension key of the image config's `config` object
// (Docker and podman read it, OCI runtimes ignore it):
// https://github.com/moby/docker-image-spec/blob/v1.3.1/spec.md (Healthcheck)

/// How a runtime checks that a container still works: a command, how often, how long it
/// may take, and how many failures in a row make the container unhealthy.
public struct Healthcheck: Sendable, Hashable, Codable {
    /// `["CMD", program, args...]`, `["CMD-SHELL", script]` or `["NONE"]` (no check, even one
    /// the parent image had).
    public var test: [String]
    /// Nanoseconds between two checks (absent: the runtime's default, 30 s).
    public var interval: Int64?
    /// Nanoseconds a check may take before it counts as failed (absent: 30 s).
    public var timeout: Int64?
    /// Nanoseconds after the start during which failures do not count (absent: 0).
    public var startPeriod: Int64?
    /// Failures in a row that make the container unhealthy (absent: 3).
    public var retries: Int?

    public init(test: [String], interval: Int64? = nil, timeout: Int64? = nil, startPeriod: Int64? = nil, retries: Int? = nil) {
        self.test = test
        self.interval = interval
        self.timeout = timeout
        self.startPeriod = startPeriod
        self.retries = retries
    }

    enum CodingKeys: String, CodingKey {
        case test = "Test"
        case interval = "Interval"
        case timeout = "Timeout"
        case startPeriod = "StartPeriod"
        case retries = "Retries"
    }
}
