import Layers
import OCI

/// What an image is built on when it is not another image of the pipeline: nothing
/// (`scratch`), a Debian root, a root file system tarball, an OCI layout, a registry image.
/// One file of this folder per kind, one entry of the stage-file parser's table.
///
/// A base is first **resolved**: pinned to what it is (a Debian release file's digest, a
/// tag's manifest digest, a tarball's content), from bake.lock's pins when they still apply,
/// else from upstream. Then it is **imported**: its layers brought into the store, every entry checked
/// (an image), or described as the one layer bake makes of it (Debian, rootfs), which the
/// walker keys and caches like a step.
public protocol BaseSource: Sendable, CustomStringConvertible {
    /// The kind's key in `from:` (`debian`), or `scratch`.
    static var kind: String { get }

    /// Host paths outside the image's folder that the base reads, as the stage file gives
    /// them (relative to the image's folder, or absolute), for `bake verify`'s copy.
    var hostPaths: [String] { get }

    /// What `bake outdated` calls the base's upstream (`debian bookworm from URL`, a tag);
    /// nil for a base whose upstream cannot move (a digest, a file of the project).
    var upstream: String? { get }

    /// The part of bake.lock's pins (`pins`) that still applies to this base (same mirror
    /// and suite, same reference), or nil.
    func pinned(_ pins: [String: String]?) -> BasePin?

    /// What the base is now upstream (may ask the network or read a file). A plan
    /// (`context.build` false) does not ask a registry.
    func current(_ context: BaseContext) throws -> BasePin

    /// The base below the first step, for `pin`.
    func importImage(_ pin: BasePin, _ context: BaseContext) throws -> BaseImport
}

extension BaseSource {
    public var hostPaths: [String] { [] }
    public var upstream: String? { nil }
    public func pinned(_ pins: [String: String]?) -> BasePin? { nil }

    /// What to build on: bake.lock's pin when it still applies, else what upstream is now.
    public func resolve(_ context: BaseContext) throws -> BasePin {
        try pinned(context.pins) ?? current(context)
    }
}

/// What a base is pinned to: the values bake.lock keeps for it (`debian.release`,
/// `image.digest`, ...).
public struct BasePin: Sendable, Hashable {
    public var values: [String: String]

    public init(_ values: [String: String] = [:]) {
        self.values = values
    }
}

/// How a base becomes the image below the first step.
public enum BaseImport {
    /// Nothing: an empty root.
    case empty
    /// An image whose layers are in the store.
    case image(ImageBase)
    /// One layer bake makes; the walker takes it from the cache or makes it.
    case layer(BaseLayerRecipe)
    /// A plan cannot know yet: importing needs the network or a download first.
    case notYet
}
