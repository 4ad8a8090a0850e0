import Glibc

/// The result of `lstat`/`fstat`, with the fields bake uses.
public struct FileStatus: Sendable, Hashable {
    /// The kind of file.
    public enum Kind: Sendable, Hashable {
        case regular, directory, symlink, characterDevice, blockDevice, fifo, socket
    }

    public var kind: Kind
    /// Permission bits including setuid, setgid and sticky (`st_mode & 07777`).
    public var permissions: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var size: Int64
    public var modificationSeconds: Int64
    public var modificationNanoseconds: Int64
    public var changeSeconds: Int64
    public var changeNanoseconds: Int64
    public var inode: UInt64
    public var device: UInt64
    public var linkCount: UInt64
    /// Device number of a character or block device.
    public var rdev: UInt64

    init(_ st: stat) {
        switch st.st_mode & S_IFMT {
        case S_IFDIR: kind = .directory
        case S_IFLNK: kind = .symlink
        case S_IFCHR: kind = .characterDevice
        case S_IFBLK: kind = .blockDevice
        case S_IFIFO: kind = .fifo
        case S_IFSOCK: kind = .socket
        default: kind = .regular
        }
        permissions = UInt32(st.st_mode & 0o7777)
        uid = st.st_uid
        gid = st.st_gid
        size = Int64(st.st_size)
        modificationSeconds = Int64(st.st_mtim.tv_sec)
        modificationNanoseconds = Int64(st.st_mtim.tv_nsec)
        changeSeconds = Int64(st.st_ctim.tv_sec)
        changeNanoseconds = Int64(st.st_ctim.tv_nsec)
        inode = UInt64(st.st_ino)
        device = UInt64(st.st_dev)
        linkCount = UInt64(st.st_nlink)
        rdev = UInt64(st.st_rdev)
    }

    /// Major number of `rdev` (glibc's encoding).
    public var deviceMajor: UInt32 {
        UInt32(truncatingIfNeeded: ((rdev >> 8) & 0xfff) | ((rdev >> 32) & ~UInt64(0xfff)))
    }

    /// Minor number of `rdev` (glibc's encoding).
    public var deviceMinor: UInt32 {
        UInt32(truncatingIfNeeded: (rdev & 0xff) | ((rdev >> 12) & ~UInt64(0xff)))
    }

    /// True when the owner may execute the file.
    public var ownerExecutable: Bool { permissions & 0o100 != 0 }
}

/// glibc's `makedev`.
func makeDevice(major: UInt32, minor: UInt32) -> UInt64 {
    let major = UInt64(major), minor = UInt64(minor)
    return ((major & 0xfff) << 8) | ((major & ~UInt64(0xfff)) << 32) | (minor & 0xff) | ((minor & ~UInt64(0xff)) << 12)
}
