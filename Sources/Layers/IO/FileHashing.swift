import Crypto
import Glibc
import OCI

extension FileSystem {
    /// sha256 of a regular file's content. Fails with `fileChanged` if the file's size or
    /// mtime differ from `expecting` after reading, so a digest is never paired with a stat
    /// the content did not have.
    public static func sha256(ofFile path: [UInt8], expecting expected: FileStatus) throws -> OCI.Digest {
        try sha256(of: OpenFile(bytes: path, flags: O_RDONLY | O_NOFOLLOW | O_NONBLOCK), expecting: expected)
    }

    /// sha256 of an open regular file's content, checked against `expected` the same way.
    public static func sha256(of file: OpenFile, expecting expected: FileStatus) throws -> OCI.Digest {
        var hasher = SHA256()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        var total: Int64 = 0
        while true {
            let count = try file.read(into: buffer)
            if count == 0 { break }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            total += Int64(count)
        }
        let after = try file.status()
        guard after.kind == .regular, total == after.size, after.size == expected.size,
              after.modificationSeconds == expected.modificationSeconds,
              after.modificationNanoseconds == expected.modificationNanoseconds else {
            throw LayersError.fileChanged(path: file.path)
        }
        return OCI.Digest(sha256: hasher.finalize())
    }
}
