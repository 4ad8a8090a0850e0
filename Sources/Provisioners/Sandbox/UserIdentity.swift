import Layers
import OCI

/// Numeric user, group and supplementary groups.
public struct UserIdentity: Sendable, Hashable {
    public var uid: UInt32
    public var gid: UInt32
    public var groups: [UInt32]

    public init(uid: UInt32, gid: UInt32, groups: [UInt32] = []) {
        self.uid = uid
        self.gid = gid
        self.groups = groups
    }

    public static let root = UserIdentity(uid: 0, gid: 0)
}
