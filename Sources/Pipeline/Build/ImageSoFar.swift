import Layers
import OCI
import Provisioners

/// An image while its steps are walked: its base, the layers its steps made or took from
/// the cache, and the cache-key state after them. The merged tree is built from the store
/// the first time a step needs it and kept up to date while steps run; a layer taken from
/// the cache (whose entries are not at hand) makes it stale until it is needed again.
final class ImageSoFar {
    let base: ImageBase
    private let store: ContentStore
    private(set) var layers: [LayerBlob] = []
    private(set) var histories: [String] = []
    /// The cache-key state a next step runs on.
    private(set) var state: Digest
    /// The merged tree of every layer so far, when known.
    private var tree: ImageFilesystem?

    init(base: ImageBase, store: ContentStore) {
        self.base = base
        self.store = store
        self.state = base.state
    }

    /// Every layer, the base's first.
    var stack: LayerStack {
        LayerStack(layers: base.layers + layers.map(\.descriptor), diffIDs: base.diffIDs + layers.map(\.diffID))
    }

    /// Adds a step's layer; `entries`, when known, keep the tree up to date.
    func append(_ layer: LayerBlob, history: String, entries: [TarEntry]?) {
        let index = base.layers.count + layers.count
        if let entries, let tree { tree.apply(layer: entries, index: index) } else { tree = nil }
        state = CacheKey.state(after: state, layer: layer.diffID)
        layers.append(layer)
        histories.append(history)
    }

    /// The merged tree of every layer so far.
    func filesystem() throws -> ImageFilesystem {
        if let tree { return tree }
        let stack = self.stack
        let made = try store.filesystem(layers: stack.layers, diffIDs: stack.diffIDs)
        tree = made
        return made
    }
}
