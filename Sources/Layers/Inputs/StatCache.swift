import OCI

/// The stat cache file: one line per file, `inode size mtime.s mtime.ns ctime.s ctime.ns sha256 path`.
enum StatCache {
    struct Record: Sendable {
        var inode: UInt64
        var size: Int64
        var mtime: (Int64, Int64)
        var ctime: (Int64, Int64)
        var digest: Digest

        init(status: FileStatus, digest: Digest) {
            inode = status.inode
            size = status.size
            mtime = (status.modificationSeconds, status.modificationNanoseconds)
            ctime = (status.changeSeconds, status.changeNanoseconds)
            self.digest = digest
        }

        init(inode: UInt64, size: Int64, mtime: (Int64, Int64), ctime: (Int64, Int64), digest: Digest) {
            self.inode = inode
            self.size = size
            self.mtime = mtime
            self.ctime = ctime
            self.digest = digest
        }

        func matches(_ status: FileStatus) -> Bool {
            inode == status.inode && size == status.size
                && mtime == (status.modificationSeconds, status.modificationNanoseconds)
                && ctime == (status.changeSeconds, status.changeNanoseconds)
        }
    }

    /// Parses the file in one pass over its bytes (it can have a line per file of a large
    /// context, and is read on every build). Malformed lines are skipped: they only cost a hash.
    static func load(_ path: String) -> [String: Record] {
        guard let bytes = try? FileSystem.readFile(path, limit: 1 << 30) else { return [:] }
        var records: [String: Record] = [:]
        records.reserveCapacity(bytes.count / 100)
        bytes.withUnsafeBufferPointer { buffer in
            var index = 0
            let end = buffer.count
            func number() -> Int64? {
                var value: Int64 = 0
                var digits = 0
                while index < end, buffer[index] >= 0x30, buffer[index] <= 0x39 {
                    value = value &* 10 &+ Int64(buffer[index] - 0x30)
                    index += 1
                    digits += 1
                }
                guard digits > 0, digits < 19, index < end, buffer[index] == 0x20 else { return nil }
                index += 1
                return value
            }
            while index < end {
                defer {
                    while index < end, buffer[index] != 0x0a { index += 1 }
                    index += 1
                }
                guard let inode = number(), let size = number(), let ms = number(), let mn = number(),
                      let cs = number(), let cn = number(), index + 65 <= end, buffer[index + 64] == 0x20 else { continue }
                let hex = String(decoding: UnsafeBufferPointer(rebasing: buffer[index..<(index + 64)]), as: UTF8.self)
                guard let digest = try? Digest(algorithm: .sha256, encoded: hex) else { continue }
                index += 65
                var pathEnd = index
                while pathEnd < end, buffer[pathEnd] != 0x0a { pathEnd += 1 }
                let name = String(decoding: UnsafeBufferPointer(rebasing: buffer[index..<pathEnd]), as: UTF8.self)
                index = pathEnd
                records[name] = Record(inode: UInt64(inode), size: size, mtime: (ms, mn), ctime: (cs, cn), digest: digest)
            }
        }
        return records
    }

    static func render(_ records: [String: Record]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(records.count * 120)
        for (path, r) in records.sorted(by: { $0.key < $1.key }) {
            out.append(contentsOf: "\(r.inode) \(r.size) \(r.mtime.0) \(r.mtime.1) \(r.ctime.0) \(r.ctime.1) \(r.digest.encoded) \(path)\n".utf8)
        }
        return out
    }
}
