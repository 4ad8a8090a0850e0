import Glibc
import Crypto
import OCI

/// Something bytes are written to, one buffer at a time. Sinks are chained (tar ->
/// sha256 -> gzip -> sha256 -> file) so a layer is made in one streaming pass.
public protocol ByteSink: AnyObject {
    /// Consumes `bytes`; the buffer is only valid during the call.
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// Flushes and finishes this sink and every sink after it.
    func finish() throws
}

extension ByteSink {
    /// Writes an array.
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }
}

/// Something bytes are read from.
public protocol ByteSource: AnyObject {
    /// Reads up to `buffer.count` bytes, returning how many; 0 only at the end.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

/// A source that can skip bytes without reading them (a regular file).
public protocol SkippableSource: ByteSource {
    /// Skips `count` bytes; returns false if it could not, leaving the position unchanged.
    func skip(_ count: Int64) throws -> Bool
}

extension ByteSource {
    /// Reads everything that is left (for small documents), failing past `limit` bytes.
    public func readAll(limit: Int = 64 << 20) throws -> [UInt8] {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = try buffer.withUnsafeMutableBytes { try read(into: $0) }
            if count == 0 { return result }
            result.append(contentsOf: buffer[0..<count])
            if result.count > limit { throw LayersError.unsupported("a document is larger than \(limit) bytes") }
        }
    }

    /// Reads and discards everything that is left; returns the number of bytes.
    @discardableResult
    public func drain() throws -> Int64 {
        try copy(to: nil)
    }

    /// Writes everything that is left to `sink` (or nowhere); returns the number of bytes.
    /// Does not finish the sink.
    @discardableResult
    public func copy(to sink: ByteSink?) throws -> Int64 {
        var total: Int64 = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = try buffer.withUnsafeMutableBytes { try read(into: $0) }
            if count == 0 { return total }
            try buffer.withUnsafeBytes { try sink?.write(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            total += Int64(count)
        }
    }
}

/// Writes into a file, coalescing small writes into 1 MiB buffers.
public final class FileSink: ByteSink {
    private let file: OpenFile
    private var buffer: [UInt8] = []
    private let capacity = 1 << 20
    private let syncOnFinish: Bool

    /// Writes to `file`; fsyncs on finish when `sync` is set.
    public init(file: OpenFile, sync: Bool) {
        self.file = file
        self.syncOnFinish = sync
        buffer.reserveCapacity(capacity)
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        if buffer.count + bytes.count > capacity { try flush() }
        if bytes.count >= capacity {
            try file.writeAll(bytes)
        } else {
            buffer.append(contentsOf: bytes)
        }
    }

    private func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try file.writeAll($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    public func finish() throws {
        try flush()
        if syncOnFinish { try file.sync() }
    }
}

/// Collects bytes in memory (small documents and tests).
public final class ArraySink: ByteSink {
    /// Everything written so far.
    public private(set) var bytes: [UInt8] = []
    public init() {}
    public func write(_ bytes: UnsafeRawBufferPointer) throws { self.bytes.append(contentsOf: bytes) }
    public func finish() throws {}
}

/// Discards bytes, counting them.
public final class CountingSink: ByteSink {
    /// Bytes written so far.
    public private(set) var count: Int64 = 0
    public init() {}
    public func write(_ bytes: UnsafeRawBufferPointer) throws { count += Int64(bytes.count) }
    public func finish() throws {}
}

/// Computes the sha256 and size of what passes through, forwarding it downstream.
public final class DigestingSink: ByteSink {
    private var hasher = SHA256()
    private let downstream: ByteSink?
    /// Bytes seen so far.
    public private(set) var count: Int64 = 0
    private var result: OCI.Digest?

    public init(downstream: ByteSink?) {
        self.downstream = downstream
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        hasher.update(bufferPointer: bytes)
        count += Int64(bytes.count)
        try downstream?.write(bytes)
    }

    public func finish() throws {
        guard result == nil else { return }
        result = OCI.Digest(sha256: hasher.finalize())
        try downstream?.finish()
    }

    /// The digest; valid after `finish()`.
    public var digest: OCI.Digest {
        guard let result else { preconditionFailure("DigestingSink.digest read before finish()") }
        return result
    }
}

/// Reads from a file.
public final class FileSource: SkippableSource {
    private let file: OpenFile
    private lazy var isRegular: Bool = (try? file.status().kind == .regular) ?? false
    public init(file: OpenFile) { self.file = file }
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int { try file.read(into: buffer) }

    public func skip(_ count: Int64) throws -> Bool {
        // Seeking past the end would hide a truncated file: only seek within it.
        guard isRegular else { return false }
        let position = lseek(file.fd, 0, SEEK_CUR)
        guard position >= 0, let size = try? file.status().size, Int64(position) + count <= size else { return false }
        return lseek(file.fd, off_t(count), SEEK_CUR) >= 0
    }
}

/// Reads from bytes in memory.
public final class ArraySource: ByteSource {
    private let bytes: [UInt8]
    private var offset = 0
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let count = min(buffer.count, bytes.count - offset)
        if count > 0 {
            bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + offset, byteCount: count) }
        }
        offset += count
        return count
    }
}

/// Passes bytes through while hashing them; when the upstream ends, the digest must equal
/// `expected` (and the byte count `size`, when given) or the final read throws. A blob is
/// thereby verified before it is trusted: whoever reads it to the end learns of any
/// corruption before using the result. More bytes than `size` fail at once, so a blob
/// whose descriptor understates it is never read further.
public final class VerifyingSource: ByteSource {
    private let upstream: ByteSource
    private var hasher = SHA256()
    private let expected: OCI.Digest
    private let size: Int64?
    private let what: String
    private var verified = false
    /// Bytes read so far.
    public private(set) var count: Int64 = 0

    public init(upstream: ByteSource, expected: OCI.Digest, size: Int64? = nil, what: String) {
        self.upstream = upstream
        self.expected = expected
        self.size = size
        self.what = what
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard expected.algorithm == .sha256 else {
            throw LayersError.unsupported("\(what) \(expected) uses \(expected.algorithm.rawValue), which bake does not support (it verifies sha256 digests)")
        }
        let n = try upstream.read(into: buffer)
        if n > 0 {
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            count += Int64(n)
            if let size, count > size { throw LayersError.sizeMismatch(digest: expected, claimed: size, actual: nil, what: what) }
            return n
        }
        if !verified {
            if let size, count != size { throw LayersError.sizeMismatch(digest: expected, claimed: size, actual: count, what: what) }
            let actual = OCI.Digest(sha256: hasher.finalize())
            guard actual == expected else {
                throw LayersError.digestMismatch(expected: expected, actual: actual, what: what)
            }
            verified = true
        }
        return 0
    }
}

extension OCI.Digest {
    /// The sha256 digest of `bytes`.
    public static func sha256(_ bytes: [UInt8]) -> OCI.Digest {
        OCI.Digest(sha256: SHA256.hash(data: bytes))
    }
}
