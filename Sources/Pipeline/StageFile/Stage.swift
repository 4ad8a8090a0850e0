import Provisioners

/// A validated stage file: one image of the pipeline (`images/NAME/stage.yaml`).
public struct Stage: Sendable {
    /// The image name (its folder's name).
    public var name: String
    /// Absolute host path of the image's folder, the build context.
    public var directory: String
    /// The stage file's path relative to the project folder, for messages.
    public var file: String
    /// Free text; display only, never part of a cache key or an image.
    public var description: String?
    /// What the image is built on.
    public var base: StageBase
    /// Where `from:` is written.
    public var baseLocation: SourceLocation
    /// The steps, in order; each yields at most one layer.
    public var steps: [Step]
    /// Image config changes, applied over the parent's config.
    public var config: ConfigPatch
    /// Commands run in the finished image.
    public var checks: [Check]

    /// The image's folder, as steps see it.
    public var buildContext: BuildContext { BuildContext(path: directory, name: "images/\(name)") }
}
