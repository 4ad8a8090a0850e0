import Provisioners

/// One entry of `checks:`.
public struct Check: Sendable, Hashable {
    public var script: String
    public var user: UserSpec?
    /// Memory and processes of the check (not in the checks' digest: a limit decides only
    /// whether a check passes).
    public var limits: ResourceLimits = ResourceLimits()
    public var location: SourceLocation
}
