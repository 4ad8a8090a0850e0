/// A resource limit a command ran into, as the end of a sentence about it ("step 2 of app
/// used its memory limit of 2 GiB and was killed").
public enum LimitHit: Sendable, Hashable, CustomStringConvertible {
    /// The kernel killed a process of the command for going over the memory limit.
    case memory(bytes: UInt64)
    /// A fork or clone of the command was refused at the process limit.
    case processes(count: Int)

    public var description: String {
        switch self {
        case .memory(let bytes): return "used its memory limit of \(ResourceLimits.describe(bytes: bytes)) and was killed"
        case .processes(let count): return "reached its limit of \(count) processes"
        }
    }
}
