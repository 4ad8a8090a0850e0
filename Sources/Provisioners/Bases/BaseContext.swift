import Layers
import OCI

/// What resolving and importing a base may use.
public struct BaseContext {
    public var store: ContentStore
    /// The image built on the base.
    public var image: String
    /// Its folder: relative base paths are relative to it.
    public var buildContext: BuildContext
    /// `SOURCE_DATE_EPOCH`, when set.
    public var sourceDateEpoch: Int64?
    /// bake.lock's pins of the image, if any.
    public var pins: [String: String]?
    /// May download, import and write to the store (a build); false for a plan, which
    /// writes nothing and asks the network as little as it can.
    public var build: Bool
    /// Hashes a tarball's content, remembering digests by stat.
    public var hasher: InputHasher
    /// Reaches registries.
    public var fetcher: any ImageFetcher

    public init(
        store: ContentStore, image: String, buildContext: BuildContext, pins: [String: String]?, build: Bool,
        hasher: InputHasher, fetcher: any ImageFetcher
    ) {
        self.store = store
        self.image = image
        self.buildContext = buildContext
        self.pins = pins
        self.build = build
        self.hasher = hasher
        self.fetcher = fetcher
    }

    /// A path of a base as the stage file gives it: absolute, or relative to the image folder.
    public func hostPath(_ path: String) -> String {
        path.hasPrefix("/") ? path : buildContext.path + "/" + path
    }

    /// A fresh folder of the store's temporary area; the caller removes it.
    func workFolder(_ prefix: String) throws -> String {
        try store.createTemporaryFolder()
        return try FileSystem.makeTemporaryDirectory(in: store.temporaryPath, prefix: prefix)
    }
}
