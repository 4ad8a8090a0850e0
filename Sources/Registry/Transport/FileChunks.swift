import Glibc
import NIOCore

/// Part of a file as a stream of buffers of at most 1 MiB, read as the stream is iterated:
/// memory stays at one buffer whatever the file's size. Each iteration opens the file anew,
/// so a retried request reads it again from `offset`.
public struct FileChunks: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    public let path: String
    public let offset: Int64
    public let length: Int64

    public init(path: String, offset: Int64, length: Int64) {
        self.path = path
        self.offset = offset
        self.length = length
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        fileprivate let reader: Reader

        public mutating func next() async throws -> ByteBuffer? { try reader.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(reader: Reader(path: path, position: offset, remaining: length))
    }

    /// Owns the file descriptor of one iteration. Not Sendable: one iterator is read by one
    /// task at a time, which the type system holds it to.
    fileprivate final class Reader {
        let path: String
        var position: Int64
        var remaining: Int64
        var descriptor: Int32 = -1

        init(path: String, position: Int64, remaining: Int64) {
            self.path = path
            self.position = position
            self.remaining = remaining
        }

        deinit { if descriptor >= 0 { close(descriptor) } }

        func next() throws -> ByteBuffer? {
            guard remaining > 0 else { return nil }
            if descriptor < 0 {
                descriptor = open(path, O_RDONLY | O_CLOEXEC)
                guard descriptor >= 0 else { throw RegistryError.localFile(operation: "read", path: path, errno: errno) }
            }
            let want = Int(Swift.min(remaining, 1 << 20))
            var buffer = ByteBufferAllocator().buffer(capacity: want)
            let count = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: want) { pointer -> Int in
                var got: Int
                repeat { got = pread(descriptor, pointer.baseAddress, want, off_t(position)) } while got < 0 && errno == EINTR
                // A file shorter than the blob it should hold: it changed under bake.
                guard got > 0 else { throw RegistryError.localFile(operation: "read", path: path, errno: got < 0 ? errno : EIO) }
                return got
            }
            position += Int64(count)
            remaining -= Int64(count)
            return buffer
        }
    }
}
