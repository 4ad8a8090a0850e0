/// One member of a layer archive, independent of how it is encoded.
public struct TarEntry: Sendable, Hashable {
    /// What the entry is, with the data each kind needs.
    public enum Kind: Sendable, Hashable {
        /// A regular file of `size` bytes; the content follows the header.
        case regular(size: Int64)
        case directory
        /// A symlink; the target is kept as raw bytes and never interpreted.
        case symlink(target: [UInt8])
        /// A hard link to an earlier entry of the same archive.
        case hardlink(target: RelativePath)
        case characterDevice(major: UInt32, minor: UInt32)
        case blockDevice(major: UInt32, minor: UInt32)
        case fifo
    }

    /// Path relative to the image root.
    public var path: RelativePath
    public var kind: Kind
    /// Permission bits including setuid (04000), setgid (02000) and sticky (01000).
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    /// Modification time in seconds since the epoch.
    public var mtime: Int64
    /// Extended attributes by name.
    public var xattrs: [String: [UInt8]]

    public init(
        path: RelativePath, kind: Kind, mode: UInt32, uid: UInt32 = 0, gid: UInt32 = 0,
        mtime: Int64, xattrs: [String: [UInt8]] = [:]
    ) {
        self.path = path
        self.kind = kind
        self.mode = mode & 0o7777
        self.uid = uid
        self.gid = gid
        self.mtime = mtime
        self.xattrs = xattrs
    }

    /// Size of the content that follows the header (non-zero only for regular files).
    public var contentSize: Int64 {
        if case .regular(let size) = kind { return size }
        return 0
    }

    /// True for a directory.
    public var isDirectory: Bool {
        if case .directory = kind { return true }
        return false
    }

    /// True when the entry's name starts with `.wh.`, the prefix OCI reserves for whiteouts.
    public var hasWhiteoutName: Bool {
        path.lastComponent.starts(with: Whiteout.prefix)
    }

    /// The OCI whiteout this entry encodes; nil when it is not one or when it names nothing
    /// valid (`.wh.`, `.wh..`, `.wh...`), which `TarReader` refuses before anyone sees it.
    public var whiteout: Whiteout? {
        let name = path.lastComponent
        guard name.starts(with: Whiteout.prefix), let parent = path.parent else { return nil }
        if name == Whiteout.opaqueMarker { return .opaque(directory: parent) }
        let target = Array(name[Whiteout.prefix.count...])
        guard Whiteout.isValidTarget(target) else { return nil }
        return .remove(parent.appending(target))
    }

    /// `ls -l` style summary, used by listings and tests.
    public var listing: String {
        let type: String
        var suffix = ""
        switch kind {
        case .regular(let size): type = "-"; suffix = " size=\(size)"
        case .directory: type = "d"
        case .symlink(let target): type = "l"; suffix = " -> \(String(decoding: target, as: UTF8.self))"
        case .hardlink(let target): type = "h"; suffix = " link to \(target)"
        case .characterDevice(let major, let minor): type = "c"; suffix = " \(major),\(minor)"
        case .blockDevice(let major, let minor): type = "b"; suffix = " \(major),\(minor)"
        case .fifo: type = "p"
        }
        return "\(type) \(Octal.mode(mode)) \(uid):\(gid) \(path)\(suffix)"
    }
}
