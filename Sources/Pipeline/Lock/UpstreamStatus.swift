import Layers
import OCI
import Provisioners

/// An external upstream of an image (a Debian release) as bake.lock pins it and as it is now.
public struct UpstreamStatus: Sendable, Encodable {
    /// The image whose base it is.
    public var image: String
    /// `debian bookworm from http://deb.debian.org/debian`.
    public var upstream: String
    /// The pins bake.lock holds (nil when it pins nothing yet).
    public var pinned: [String: String]?
    /// The pins as upstream answers now.
    public var current: [String: String]
    /// The image and every image built on it: what a moved pin rebuilds.
    public var affects: [String]

    /// True when upstream has moved on from the pin.
    public var isOutdated: Bool {
        pinned != nil && pinned != current
    }
    /// True when bake.lock pins nothing for it yet.
    public var isUnpinned: Bool { pinned == nil }

    /// `sha256:abc… (2024-06-29T10:00:00Z)` for one side.
    public static func summary(_ pins: [String: String]?) -> String {
        guard let pins else { return "nothing" }
        if let digest = pins[RegistryImageBase.digestKey] { return digest }
        let digest = pins[Upstreams.identity].flatMap { try? Digest(parsing: $0) }
        return "InRelease \(digest?.short ?? pins[Upstreams.identity] ?? "?") (\(pins["debian.date"] ?? "?"))"
    }
}
