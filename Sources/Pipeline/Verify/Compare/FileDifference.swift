import Glibc
import Layers
import OCI
import Provisioners

/// One path that differs between two layers.
public struct FileDifference: Sendable, Hashable, Codable {
    /// How the path differs.
    public enum Change: String, Sendable, Hashable, Codable {
        /// Only in the second layer.
        case added
        /// Only in the first layer.
        case removed
        /// In both, with different attributes or content.
        case changed
    }

    /// The path in the image, absolute (`/stamp`); in a name that is not UTF-8, a byte that
    /// is not part of a character shows as `\xHH` (so two such names never look alike).
    public var path: String
    /// How it differs.
    public var change: Change
    /// Every attribute that differs, in a fixed order (`type`, `content sha256`, `size`,
    /// `mode`, `uid`, `gid`, `mtime`, `link target`, `device`, then `xattr NAME` by name). For
    /// an added or removed path, every attribute of the side that has it, the other `(none)`.
    public var attributes: [AttributeChange]
    /// The whole content before, for a small text file whose content differs; nil otherwise.
    public var before: String?
    /// The whole content after, for a small text file whose content differs; nil otherwise.
    public var after: String?
    /// Unified diff lines (`---`/`+++`/`@@` hunks) when both sides are small text files.
    public var diff: [String]?
    /// The known cause of the difference, if it is one bake recognises.
    public var cause: KnownCause?

    /// A difference; see the properties.
    public init(
        path: String, change: Change, attributes: [AttributeChange] = [],
        before: String? = nil, after: String? = nil, diff: [String]? = nil, cause: KnownCause? = nil
    ) {
        self.path = path
        self.change = change
        self.attributes = attributes
        self.before = before
        self.after = after
        self.diff = diff
        self.cause = cause
    }
}

/// One attribute that differs between two versions of a path.
public struct AttributeChange: Sendable, Hashable, Codable {
    /// The attribute's name: `type`, `content sha256`, `size`, `mode`, `uid`, `gid`, `mtime`,
    /// `link target`, `device` or `xattr NAME`.
    public var attribute: String
    /// Its value before, or `(none)` when the path had no such attribute then.
    public var before: String
    /// Its value after, or `(none)` when the path has no such attribute now.
    public var after: String

    /// A change of `attribute` from `before` to `after`.
    public init(attribute: String, before: String, after: String) {
        self.attribute = attribute
        self.before = before
        self.after = after
    }
}
