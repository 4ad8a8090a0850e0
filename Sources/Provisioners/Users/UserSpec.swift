/// A user as a stage file or an image config names one: `user`, `uid`, `user:group` or
/// `uid:gid` (`owner:` of copy steps, `user:` of run steps and checks, `config.user`). All of
/// them are resolved by one rule (`ImageUsers.resolve`).
public struct UserSpec: Sendable, Hashable, CustomStringConvertible {
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

    /// Why a text is not a user.
    public enum Problem: Error, Sendable, Hashable {
        /// Not `user`, `uid`, `user:group` or `uid:gid`.
        case malformed
        /// It uses 4294967295, the id setresuid and chown read as "unchanged".
        case reservedID
    }

    /// (uid_t)-1: to setresuid and chown it means "leave unchanged", so a command "running
    /// as" it would stay root.
    public static let reservedID = UInt32.max

    public var user: Part
    public var group: Part?

    public init(user: Part, group: Part? = nil) {
        self.user = user
        self.group = group
    }

    /// Reads `user`, `uid`, `user:group` or `uid:gid`. A name starts with a letter or `_` and
    /// has at most 32 letters, digits, `_`, `.`, `-` (and a final `$`), as useradd allows.
    public init(parsing text: String) throws(Problem) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { throw .malformed }
        user = try Self.part(parts[0])
        group = parts.count == 2 ? try Self.part(parts[1]) : nil
    }

    private static func part(_ text: Substring) throws(Problem) -> Part {
        if !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }) {
            guard let id = UInt32(text) else { throw .malformed }
            guard id != reservedID else { throw .reservedID }
            return .id(id)
        }
        guard let first = text.first, first.isASCII, first.isLetter || first == "_", text.count <= 32,
              text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_.-$".contains($0)) })
        else { throw .malformed }
        return .name(String(text))
    }

    /// The sentence for a value (`'user: 4294967295'`) that uses the reserved id.
    public static func reservedMessage(_ shown: String) -> String {
        "'\(shown)' uses the id 4294967295, which the kernel reads as \"unchanged\" (the command would run as root); use another id"
    }

    public var description: String {
        group.map { "\(user):\($0)" } ?? user.description
    }
}
