// Image index: https://github.com/opencontainers/image-spec/blob/v1.1.0/image-index.md

/// An image index: a list of manifests. The `index.json` of an image layout is one.
public struct Index: Sendable, Hashable, Codable {
    /// Always 2.
    public var schemaVersion: Int
    /// `application/vnd.oci.image.index.v1+json`.
    public var mediaType: MediaType?
    /// Type of an artifact index; nil otherwise.
    public var artifactType: MediaType?
    /// The manifests, in order.
    public var manifests: [Descriptor]
    /// Arbitrary metadata.
    public var annotations: [String: String]?

    public init(manifests: [Descriptor], annotations: [String: String]? = nil) {
        self.schemaVersion = 2
        self.mediaType = .imageIndex
        self.manifests = manifests
        self.annotations = annotations
    }

    /// The descriptor whose `org.opencontainers.image.ref.name` is `name`, if any.
    public func manifest(named name: String) -> Descriptor? {
        manifests.last { $0.annotations?[AnnotationKey.refName] == name }
    }

    /// Names carried by `org.opencontainers.image.ref.name`, in index order.
    public var refNames: [String] {
        manifests.compactMap { $0.annotations?[AnnotationKey.refName] }
    }

    /// Replaces (or adds) the entry named `name`, keeping entries sorted by name so the
    /// file's bytes do not depend on the order in which images were built.
    public mutating func setManifest(_ descriptor: Descriptor, named name: String) {
        var entry = descriptor
        var annotations = entry.annotations ?? [:]
        annotations[AnnotationKey.refName] = name
        entry.annotations = annotations
        manifests.removeAll { $0.annotations?[AnnotationKey.refName] == name }
        manifests.append(entry)
        manifests.sort { lhs, rhs in
            let left = lhs.annotations?[AnnotationKey.refName] ?? ""
            let right = rhs.annotations?[AnnotationKey.refName] ?? ""
            return Array(left.utf8).lexicographicallyPrecedes(Array(right.utf8))
        }
    }
}
