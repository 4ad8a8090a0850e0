import Glibc

/// The file system a path is on, as /proc/self/mountinfo names it (`ext4`, `tmpfs`,
/// `fuse.disorderfs`...), for messages about what overlayfs cannot use.
public struct MountedFileSystem: Sendable, Hashable {
    /// The file system type (mountinfo's field after the ` - ` separator).
    public var type: String
    /// Where it is mounted.
    public var mountPoint: String

    /// The mount holding `path` (the longest mount point that is a prefix of its real
    /// path; a later mount over the same point wins), or nil when it cannot be told.
    public static func holding(_ path: String) -> MountedFileSystem? {
        guard let real = realpath(path, nil) else { return nil }
        let resolved = String(cString: real)
        free(real)
        guard let bytes = try? readMountInfo() else { return nil }
        var best: MountedFileSystem?
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count > 4, let separator = fields.firstIndex(of: "-"), separator + 1 < fields.count else { continue }
            let point = unescape(String(fields[4]))
            let inside = point == "/" || resolved == point || resolved.hasPrefix(point + "/")
            guard inside, point.count >= (best?.mountPoint.count ?? 0) else { continue }
            best = MountedFileSystem(type: String(fields[separator + 1]), mountPoint: point)
        }
        return best
    }

    /// File systems an overlay's upper and work dirs cannot be on (network and FUSE file
    /// systems, another overlay): the message says so plainly.
    public var isLocal: Bool {
        !(type.hasPrefix("fuse") || ["overlay", "nfs", "nfs4", "cifs", "smb3", "9p", "ecryptfs", "virtiofs"].contains(type))
    }

    private static func readMountInfo() throws -> [UInt8] {
        let fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while result.count < 16 << 20 {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            result += buffer[..<count]
        }
        return result
    }

    /// mountinfo writes space, tab, newline and backslash as `\040`-style octal escapes.
    private static func unescape(_ text: String) -> String {
        guard text.contains("\\") else { return text }
        var bytes: [UInt8] = []
        var input = Array(text.utf8)[...]
        while let byte = input.popFirst() {
            if byte == 0x5c, input.count >= 3, let value = UInt8(String(decoding: input.prefix(3), as: UTF8.self), radix: 8) {
                bytes.append(value)
                input = input.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
