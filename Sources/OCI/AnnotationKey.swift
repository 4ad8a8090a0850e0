// Annotations: https://github.com/opencontainers/image-spec/blob/v1.1.0/annotations.md

/// Well-known annotation keys.
/// https://github.com/opencontainers/image-spec/blob/v1.1.0/annotations.md
public enum AnnotationKey {
    /// Name of a reference in an image layout index (bake: the image name).
    public static let refName = "org.opencontainers.image.ref.name"
    /// Date and time the image was built (RFC 3339).
    public static let created = "org.opencontainers.image.created"
    /// Reference of the image this one is built on.
    public static let baseName = "org.opencontainers.image.base.name"
    /// Manifest digest of the image this one is built on.
    public static let baseDigest = "org.opencontainers.image.base.digest"
    /// Source control revision the image was built from (a git commit).
    public static let revision = "org.opencontainers.image.revision"
    /// URL of the source the image was built from (the git remote).
    public static let source = "org.opencontainers.image.source"
    /// Version of the packaged software (a git tag on the revision).
    public static let version = "org.opencontainers.image.version"
    /// Human-readable title of the image.
    public static let title = "org.opencontainers.image.title"
    /// Human-readable description of the image.
    public static let description = "org.opencontainers.image.description"
}
