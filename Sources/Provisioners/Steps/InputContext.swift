import Layers

/// What a step needs to list its input files.
public struct InputContext {
    /// The image's folder, the build context.
    public var buildContext: BuildContext
    /// Hashes files, remembering digests by stat.
    public var hasher: InputHasher
    /// Builds save the stat cache and listings (under the store's exclusive lock); plans
    /// and `why` write nothing.
    public var remember: Bool

    public init(buildContext: BuildContext, hasher: InputHasher, remember: Bool) {
        self.buildContext = buildContext
        self.hasher = hasher
        self.remember = remember
    }
}
