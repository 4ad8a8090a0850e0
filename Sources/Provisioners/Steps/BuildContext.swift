import Layers

/// An image's folder: where copy sources are, and how messages name it.
public struct BuildContext: Sendable, Hashable {
    /// Absolute host path.
    public var path: String
    /// `images/NAME`, for messages.
    public var name: String

    public init(path: String, name: String) {
        self.path = path
        self.name = name
    }
}
