import Provisioners

/// What an image is built on.
public enum StageBase: Sendable, CustomStringConvertible {
    /// Another image of the pipeline.
    case image(String)
    /// Something outside the pipeline: scratch, a Debian root, a registry image...
    case source(any BaseSource)

    public var description: String {
        switch self {
        case .image(let name): return name
        case .source(let source): return source.description
        }
    }

    /// The image of the pipeline this is built on, if any.
    public var parentImage: String? {
        if case .image(let name) = self { return name }
        return nil
    }
}
