/// How bake ends: the exit codes of the command line contract (DESIGN.md, "Command line").
public enum BakeExitStatus: Int32, Sendable, Hashable {
    /// Everything asked for was done.
    case success = 0
    /// A build, check, verify or registry operation failed.
    case failure = 1
    /// The user's input is at fault: a stage file, an argument, a file given to bake.
    case badInput = 2
    /// Ctrl-C or SIGTERM stopped bake.
    case interrupted = 130

    /// The exit status for `error`: its own when it knows it (through any context added on
    /// the way), otherwise a failure.
    public init(for error: any Error) {
        self = (error as? any BakeError)?.exitStatus ?? .failure
    }
}
