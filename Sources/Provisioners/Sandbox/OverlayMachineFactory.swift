import Glibc
import Layers

/// Makes `OverlayMachine`s on layers of the store: each layer unpacked once (under
/// `STORE/unpacked`), each machine's folders in a fresh folder under `folder`.
public struct OverlayMachineFactory: MachineFactory {
    public let store: ContentStore
    /// Where machines make their folders (the store's temporary area for steps and checks).
    public let folder: String
    /// Told when an unpacked layer was found changed and is unpacked again.
    public let warn: @Sendable (String) -> Void
    /// The most memory and processes a command on these machines may ask for (see
    /// `ResourceLimits.bounded(by:)`); the defaults unless the person running bake raises them.
    public let ceiling: ResourceLimits

    public init(store: ContentStore, folder: String? = nil, ceiling: ResourceLimits = ResourceLimits(),
                warn: @escaping @Sendable (String) -> Void = { _ in }) {
        self.store = store
        self.folder = folder ?? store.temporaryPath
        self.ceiling = ceiling
        self.warn = warn
    }

    /// Call under the store's exclusive lock (layers may be unpacked).
    public func machine(on stack: LayerStack) throws -> any Machine {
        let unpacked = try UnpackedLayers(store: store).ensure(layers: stack.layers, diffIDs: stack.diffIDs, warn: warn)
        try FileSystem.createDirectory(folder, mode: 0o700)
        return try OverlayMachine(lowers: unpacked.reversed(), scratch: try Self.scratchFolder(in: folder), ceiling: ceiling)
    }

    /// `FOLDER/step-XXXXXX`, a fresh folder of mode 0700 (as mkdtemp makes it) the machine
    /// makes its folders in.
    static func scratchFolder(in folder: String) throws -> String {
        try FileSystem.makeTemporaryDirectory(in: folder, prefix: "step")
    }
}
