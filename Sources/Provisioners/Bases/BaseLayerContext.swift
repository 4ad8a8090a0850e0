import Layers
import OCI

/// What making a base's layer may use.
public struct BaseLayerContext {
    /// The store, whose temporary area holds work folders.
    public var store: ContentStore
    /// Where the layer's entries go.
    public var layer: TarWriter
    /// Receives each line a tool printed.
    public var output: @Sendable (String) -> Void

    public init(store: ContentStore, layer: TarWriter, output: @escaping @Sendable (String) -> Void) {
        self.store = store
        self.layer = layer
        self.output = output
    }

    /// A fresh folder of the store's temporary area; the caller removes it.
    public func workFolder(_ prefix: String) throws -> String {
        try store.createTemporaryFolder()
        return try FileSystem.makeTemporaryDirectory(in: store.temporaryPath, prefix: prefix)
    }

    /// Writes a folder (a root file system) as the layer: canonical order, numeric owners,
    /// mtimes clamped to `epoch`.
    public func capture(_ root: String, epoch: Int64) throws {
        _ = try OverlayCapture(upper: root, lower: ImageFilesystem(), lowerFolder: { _ in nil }, epoch: epoch).write(into: layer)
    }
}
