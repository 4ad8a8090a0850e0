/// How a process ended, from the status `waitpid` fills in.
public struct WaitStatus: Sendable, Hashable {
    /// waitpid's status word.
    public let raw: Int32

    public init(raw: Int32) {
        self.raw = raw
    }

    /// The exit code as a shell reports it: 0-255 for a process that exited, 128 + the
    /// signal for one a signal ended.
    public var code: Int32 {
        (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
    }
}
