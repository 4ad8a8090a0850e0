// Platform: https://github.com/opencontainers/image-spec/blob/v1.1.0/image-index.md#image-index-property-descriptions

/// The operating system and CPU architecture an image runs on (Go's GOOS/GOARCH names).
public struct Platform: Sendable, Hashable, Codable {
    /// CPU architecture, e.g. `amd64`, `arm64`.
    public var architecture: String
    /// Operating system, e.g. `linux`.
    public var os: String
    /// Optional OS version.
    public var osVersion: String?
    /// Optional CPU variant, e.g. `v8` for arm64.
    public var variant: String?

    public init(architecture: String, os: String, osVersion: String? = nil, variant: String? = nil) {
        self.architecture = architecture
        self.os = os
        self.osVersion = osVersion
        self.variant = variant
    }

    enum CodingKeys: String, CodingKey {
        case architecture
        case os
        case osVersion = "os.version"
        case variant
    }

    /// Maps a kernel machine name (`uname -m`) to its OCI architecture and variant.
    public static func linux(machine: String) -> Platform {
        switch machine {
        case "x86_64", "amd64": return Platform(architecture: "amd64", os: "linux")
        case "aarch64", "arm64": return Platform(architecture: "arm64", os: "linux", variant: "v8")
        case "armv7l": return Platform(architecture: "arm", os: "linux", variant: "v7")
        case "i386", "i686": return Platform(architecture: "386", os: "linux")
        case "ppc64le": return Platform(architecture: "ppc64le", os: "linux")
        case "s390x": return Platform(architecture: "s390x", os: "linux")
        case "riscv64": return Platform(architecture: "riscv64", os: "linux")
        default: return Platform(architecture: machine, os: "linux")
        }
    }
}
