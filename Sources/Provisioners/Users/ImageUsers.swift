import Layers
import OCI

/// The users and groups of an image, read from its /etc/passwd and /etc/group the first
/// time a step asks: owners of copied files, the user of a command. Used by one image's
/// build at a time, like the tree it reads.
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

    /// Resolves `user:` (a name, uid, name:group or uid:gid) of a command; root (home
    /// /root) when nil or empty.
    public func account(_ spec: String?) throws -> Account {
        guard let spec, !spec.isEmpty else { return Account(identity: .root, home: "/root") }
        let database = try load()
        let parts = spec.split(separator: ":", maxSplits: 1).map(String.init)
        var uid: UInt32
        var gid: UInt32
        var home = "/"
        if let number = UInt32(parts[0]) {
            uid = number
            gid = database.users.values.first { $0.uid == number }?.gid ?? number
        } else {
            guard let entry = database.users[parts[0]] else {
                throw InputError("user '\(parts[0])' is not in the image's /etc/passwd")
            }
            (uid, gid) = (entry.uid, entry.gid)
            home = database.homes[parts[0]] ?? "/"
        }
        if uid == 0 { home = "/root" }
        if parts.count == 2 {
            if let number = UInt32(parts[1]) {
                gid = number
            } else {
                guard let number = database.groups[parts[1]] else {
                    throw InputError("group '\(parts[1])' is not in the image's /etc/group")
                }
                gid = number
            }
        }
        let name = parts[0]
        let supplementary = database.members.filter { $0.value.contains(name) }.compactMap { database.groups[$0.key] }.sorted()
        return Account(identity: UserIdentity(uid: uid, gid: gid, groups: supplementary), home: home)
    }

    /// Resolves a copy step's `owner:`; 0:0 when nil.
    public func owner(_ owner: OwnerSpec?) throws -> Owner {
        guard let owner else { return Owner(uid: 0, gid: 0) }
        let uid: UInt32
        let primaryGroup: UInt32
        switch owner.user {
        case .id(let id):
            uid = id
            primaryGroup = id
        case .name(let name):
            guard let user = try load().users[name] else {
                throw InputError("owner '\(owner)': the image below has no user '\(name)' in /etc/passwd")
            }
            uid = user.uid
            primaryGroup = user.gid
        }
        switch owner.group {
        case nil:
            return Owner(uid: uid, gid: primaryGroup)
        case .id(let id)?:
            return Owner(uid: uid, gid: id)
        case .name(let name)?:
            guard let gid = try load().groups[name] else {
                throw InputError("owner '\(owner)': the image below has no group '\(name)' in /etc/group")
            }
            return Owner(uid: uid, gid: gid)
        }
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
