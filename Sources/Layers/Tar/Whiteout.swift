/// OCI layer whiteouts.
/// https://github.com/opencontainers/image-spec/blob/v1.1.0/layer.md#whiteouts
public enum Whiteout: Sendable, Hashable {
    /// `.wh.NAME`: the path was deleted.
    case remove(RelativePath)
    /// `.wh..wh..opq`: the directory's lower contents are hidden.
    case opaque(directory: RelativePath)

    /// `.wh.`
    public static let prefix: [UInt8] = Array(".wh.".utf8)
    /// `.wh..wh..opq`
    public static let opaqueMarker: [UInt8] = Array(".wh..wh..opq".utf8)

    /// A name a `.wh.NAME` whiteout may remove: not empty, `.` or `..`, and not one of the
    /// `.wh..wh.*` names aufs used for its own bookkeeping.
    public static func isValidTarget(_ name: [UInt8]) -> Bool {
        !name.isEmpty && name != [0x2e] && name != [0x2e, 0x2e] && !name.contains(0x2f) && !name.contains(0)
            && !name.starts(with: prefix)
    }

    /// The archive path that encodes this whiteout.
    public var entryPath: RelativePath {
        switch self {
        case .remove(let path):
            return (path.parent ?? .root).appending(Whiteout.prefix + path.lastComponent)
        case .opaque(let directory):
            return directory.appending(Whiteout.opaqueMarker)
        }
    }
}
