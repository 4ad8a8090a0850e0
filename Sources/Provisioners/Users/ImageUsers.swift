import Layers
import OCI

/// The users and groups of an image, read from its /etc/passwd and /etc/group the first
/// time a step asks: owners of copied files, the user of a command. Used by one image's
/// build at a time, like the tree it reads.
///
/// One rule resolves every user (`owner:`, `user:`, `config.user`), see `resolve(_:)`.
public final class ImageUsers {
    private let store: ContentStore
    private let tree: ImageFilesystem
    private let layers: [Descriptor]
    private var database: UserDatabase?

    /// The users of the image whose merged tree is `tree`, made of `layers`.
    public init(store: ContentStore, tree: ImageFilesystem, layers: [Descriptor]) {
        self.store = store
        self.tree = tree
        self.layers = layers
    }

    /// A user and group a command runs as, and its home.
    public struct Account: Sendable, Hashable {
        public var identity: UserIdentity
        public var home: String
    }

    /// A file's owner.
    public struct Owner: Sendable, Hashable {
        public var uid: UInt32
        public var gid: UInt32
    }

    /// What `resolve` found.
    struct Resolved {
        var uid: UInt32
        var gid: UInt32
        /// The passwd name of the user, when the image has it (for supplementary groups).
        var name: String?
        var home: String?
    }

    /// The one rule for a user: a name is looked up in /etc/passwd (uid, primary group,
    /// home); a uid is the uid, with the primary group and home of its passwd entry when the
    /// image has one, else the uid itself as the group. `:group` (a name looked up in
    /// /etc/group, or a gid) replaces the primary group. An id of 4294967295, given or found,
    /// is refused: setresuid and chown read it as "unchanged".
    /// `owner` (the copy step's `owner:`, for messages) or nil for a command's user.
    func resolve(_ spec: UserSpec, owner: UserSpec? = nil) throws -> Resolved {
        let shown = owner.map { "owner '\($0)': " } ?? ""
        var resolved: Resolved
        switch spec.user {
        case .id(let uid):
            let entry = try load().byUID(uid)
            resolved = Resolved(uid: uid, gid: entry?.gid ?? uid, name: entry?.name, home: entry?.home)
        case .name(let name):
            guard let entry = try load().users[name] else {
                throw InputError(owner == nil ? "user '\(name)' is not in the image's /etc/passwd"
                                                  : "\(shown)the image below has no user '\(name)' in /etc/passwd")
            }
            resolved = Resolved(uid: entry.uid, gid: entry.gid, name: name, home: try load().homes[name])
        }
        switch spec.group {
        case nil: break
        case .id(let gid)?: resolved.gid = gid
        case .name(let name)?:
            guard let gid = try load().groups[name] else {
                throw InputError(owner == nil ? "group '\(name)' is not in the image's /etc/group"
                                                  : "\(shown)the image below has no group '\(name)' in /etc/group")
            }
            resolved.gid = gid
        }
        if resolved.uid == UserSpec.reservedID {
            throw InputError("\(shown)user '\(spec.user)' has uid 4294967295, which the kernel reads as \"unchanged\" (the command would run as root); give it another uid")
        }
        if resolved.gid == UserSpec.reservedID {
            throw InputError("\(shown)the group of '\(spec)' is 4294967295, which the kernel reads as \"unchanged\" (the command would keep root's group); give it another gid")
        }
        return resolved
    }

    /// Resolves `user:` of a command; root (home /root) when nil.
    public func account(_ spec: UserSpec?) throws -> Account {
        guard let spec else { return Account(identity: .root, home: "/root") }
        let resolved = try resolve(spec)
        let home = resolved.uid == 0 ? "/root" : (resolved.home ?? "/")
        var supplementary: [UInt32] = []
        if let name = resolved.name {
            let database = try load()
            for group in database.members.filter({ $0.value.contains(name) }).keys.sorted() {
                guard let gid = database.groups[group] else { continue }
                guard gid != UserSpec.reservedID else {
                    throw InputError("user '\(name)' is in group '\(group)', whose gid 4294967295 the kernel refuses as a group (setgroups); give the group another gid")
                }
                supplementary.append(gid)
            }
            supplementary.sort()
        }
        return Account(identity: UserIdentity(uid: resolved.uid, gid: resolved.gid, groups: supplementary), home: home)
    }

    /// Resolves an image config's user (text, as OCI stores it); root when nil or empty.
    public func account(configUser text: String?) throws -> Account {
        guard let text, !text.isEmpty else { return try account(nil) }
        do {
            return try account(try UserSpec(parsing: text))
        } catch let problem as UserSpec.Problem {
            switch problem {
            case .malformed: throw InputError("the image's user '\(text)' is not a user, uid, user:group or uid:gid")
            case .reservedID: throw InputError(UserSpec.reservedMessage("user: \(text)"))
            }
        }
    }

    /// Resolves a copy step's `owner:`; 0:0 when nil.
    public func owner(_ owner: UserSpec?) throws -> Owner {
        guard let owner else { return Owner(uid: 0, gid: 0) }
        let resolved = try resolve(owner, owner: owner)
        return Owner(uid: resolved.uid, gid: resolved.gid)
    }

    private func load() throws -> UserDatabase {
        if let database { return database }
        let passwd = try store.readFile(try RelativePath("etc/passwd"), in: tree, layers: layers)
        let group = try store.readFile(try RelativePath("etc/group"), in: tree, layers: layers)
        let loaded = UserDatabase(passwd: passwd, group: group)
        database = loaded
        return loaded
    }
}
