import Provisioners

/// One entry of `checks:`.
public struct Check: Sendable, Hashable {
    public var script: String
    public var user: String?
    public var location: SourceLocation
}
