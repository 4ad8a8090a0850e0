/// `owner:` of a copy step: `uid:gid`, `user:group`, `user` or `uid`.
public struct OwnerSpec: Sendable, Hashable, CustomStringConvertible {
    /// A numeric id or a name to look up in the image.
    public enum Part: Sendable, Hashable, CustomStringConvertible {
        case id(UInt32)
        case name(String)

        public var description: String {
            switch self {
            case .id(let id): return String(id)
            case .name(let name): return name
            }
        }
    }

    public var user: Part
    public var group: Part?

    public init(user: Part, group: Part? = nil) {
        self.user = user
        self.group = group
    }

    public var description: String {
        group.map { "\(user):\($0)" } ?? user.description
    }
}
