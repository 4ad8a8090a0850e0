import Crypto
import Glibc
import OCI

/// Digests of a whole host folder, to tell whether it is still what bake made (an unpacked
/// layer): `metadata` is cheap (a parallel lstat of every entry, no content read) and moves
/// with any change, since every write or attribute change moves a file's ctime and a
/// replaced file gets a new inode; `content` reads everything and depends only on what the
/// tree holds (names as bytes, kinds, modes, owners, times, attributes, link targets,
/// device numbers and file contents), not on inodes or ctimes, so it survives a copy of
/// the store that keeps those.
public enum TreeDigest {
    /// The digest of the metadata of `root` and everything below it. Throws when `root` is
    /// not a folder (a symlink is not followed). Of `root` itself only its mode, owner and
    /// mtime count, not its inode or ctime: renaming the folder into place moves those.
    public static func metadata(of root: String, threads: Int = GzipSink.defaultThreads) throws -> OCI.Digest {
        let status = try FileSystem.lstatPath(root)
        guard status.kind == .directory else { throw LayersError.notAFolder(path: root, kind: status.kind) }
        let tree = try TreeScanner.scan(root, threads: threads)
        var hasher = SHA256()
        hasher.update(data: Array("\(status.permissions) \(status.uid) \(status.gid) \(status.modificationSeconds).\(status.modificationNanoseconds)\n".utf8))
        hasher.update(data: Array(tree.fingerprint().encoded.utf8))
        return OCI.Digest(sha256: hasher.finalize())
    }

    /// The digest of what `root` holds, in canonical order (see the type's description).
    public static func content(of root: String) throws -> OCI.Digest {
        let status = try FileSystem.lstatPath(root)
        guard status.kind == .directory else { throw LayersError.notAFolder(path: root, kind: status.kind) }
        var hasher = SHA256()
        var record: [UInt8] = []
        func add(_ path: [UInt8], _ status: FileStatus, host: [UInt8]) throws {
            record.removeAll(keepingCapacity: true)
            record += Array("\(path.count):".utf8) + path
            let kind: String
            var extra: [UInt8] = []
            switch status.kind {
            case .regular:
                kind = "f"
                extra = Array(try FileSystem.sha256(ofFile: host, expecting: status).encoded.utf8)
            case .directory: kind = "d"
            case .symlink:
                kind = "l"
                let target = try FileSystem.readSymlink(host)
                extra = Array("\(target.count):".utf8) + target
            case .characterDevice: kind = "c"; extra = Array("\(status.deviceMajor),\(status.deviceMinor)".utf8)
            case .blockDevice: kind = "b"; extra = Array("\(status.deviceMajor),\(status.deviceMinor)".utf8)
            case .fifo: kind = "p"
            case .socket: kind = "s"
            }
            record += Array(" \(kind) \(status.permissions) \(status.uid) \(status.gid) \(status.size) \(status.modificationSeconds).\(status.modificationNanoseconds) ".utf8)
            record += extra
            for (name, value) in try FileSystem.extendedAttributes(host).sorted(by: { $0.key < $1.key }) {
                record += Array(" \(name.utf8.count):\(name)=\(value.count):".utf8) + value
            }
            record.append(0x0a)
            hasher.update(data: record)
        }
        let rootBytes = Array(root.utf8)
        try add([], status, host: rootBytes)
        try DirectoryWalker.walk(rootBytes) { file in
            // The short path: an unpacked layer may hold paths longer than PATH_MAX below its root.
            try add(file.path.bytes, file.status, host: file.shortPath)
        }
        return OCI.Digest(sha256: hasher.finalize())
    }
}
