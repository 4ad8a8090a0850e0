/// A host path bound into a machine for one command (`bake run --volume`): nosuid and
/// nodev, read-write unless `readOnly`. For commands whose changes are discarded: the mount
/// points the sandbox makes for them are not left out of a captured layer.
public struct BindMount: Sendable, Hashable {
    /// An absolute path on the host that exists.
    public var source: String
    /// An absolute path in the machine, without "." or ".." components, not "/"; resolved
    /// inside the machine's root (its symlinks too) and made if missing.
    public var target: String
    public var readOnly: Bool

    public init(source: String, target: String, readOnly: Bool) {
        self.source = source
        self.target = target
        self.readOnly = readOnly
    }
}
