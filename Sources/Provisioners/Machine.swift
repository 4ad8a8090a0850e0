/// How a step reaches the root file system it changes, as a Packer provisioner reaches a
/// machine only through a communicator: it runs commands and knows nothing of how the
/// machine is isolated or where its files live.
public protocol Machine: AnyObject {
    /// Runs `command`, sending its output where `output` says; returns its exit status
    /// (0-255, or 128 + the signal that ended it).
    func run(_ command: Command, output: CommandOutput) throws -> Int32
}

/// A command to run in a machine.
public struct Command: Sendable {
    /// Program (an absolute path in the machine) and arguments.
    public var arguments: [String]
    /// `NAME=value` entries.
    public var environment: [String]
    /// Working directory in the machine.
    public var workingDirectory: String
    public var user: UserIdentity
    /// Access to the host's network (and its resolv.conf), or none at all.
    public var network: Bool
    /// Files at /run/secrets/NAME for the duration of the command.
    public var secrets: [Secret]
    /// umask of the command.
    public var umask: UInt32

    public init(
        arguments: [String], environment: [String], workingDirectory: String = "/", user: UserIdentity = .root,
        network: Bool = false, secrets: [Secret] = [], umask: UInt32 = 0o022
    ) {
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.user = user
        self.network = network
        self.secrets = secrets
        self.umask = umask
    }
}

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

/// A secret's id and value. The value is never logged, keyed or stored.
public struct Secret: Sendable, Hashable {
    public var id: String
    public var value: [UInt8]

    public init(id: String, value: [UInt8]) {
        self.id = id
        self.value = value
    }
}

/// Where a command's output goes. Either way its stdout and stderr belong to the command's
/// user, as under Docker and podman, so that it may open /dev/stdout again (nginx's
/// `access_log /dev/stdout` as a user other than root).
public enum CommandOutput: Sendable {
    /// Every line (stdout and stderr together, in order) to a handler.
    case lines(@Sendable (String) -> Void)
    /// The caller's own stdin, stdout and stderr (interactive use: `bake run`); for a user
    /// other than root, stdout and stderr reach the caller's through pipes that user owns.
    case inherit
}
