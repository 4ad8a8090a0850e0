import Glibc
import Layers
import OCI

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
    /// The memory and processes it may use (defaults: `ResourceLimits`).
    public var limits: ResourceLimits
    /// Host paths bound into the machine for this command (`bake run --volume`).
    public var mounts: [BindMount]
    /// The signal that stops it, passed on by the machine when bake sends it (see
    /// `Interrupts.installForRun`); SIGTERM unless the image says otherwise.
    public var stopSignal: Int32

    public init(
        arguments: [String], environment: [String], workingDirectory: String = "/", user: UserIdentity = .root,
        network: Bool = false, secrets: [Secret] = [], umask: UInt32 = 0o022, limits: ResourceLimits = ResourceLimits(),
        mounts: [BindMount] = [], stopSignal: Int32 = SIGTERM
    ) {
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.user = user
        self.network = network
        self.secrets = secrets
        self.umask = umask
        self.limits = limits
        self.mounts = mounts
        self.stopSignal = stopSignal
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
