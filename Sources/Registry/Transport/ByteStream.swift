import NIOCore

/// A body as a stream of buffers, whatever produced it: a transport's response body, the
/// chunks of a file being sent, bytes in memory. Iterated once.
public struct ByteStream: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer

    public struct AsyncIterator: AsyncIteratorProtocol {
        fileprivate let nextBuffer: () async throws -> ByteBuffer?

        public mutating func next() async throws -> ByteBuffer? { try await nextBuffer() }
    }

    private let makeIterator: @Sendable () -> AsyncIterator

    /// The buffers of `buffers` (a transport's own body type, `FileChunks`).
    public init<Buffers: AsyncSequence & Sendable>(_ buffers: Buffers) where Buffers.Element == ByteBuffer {
        makeIterator = {
            var iterator = buffers.makeAsyncIterator()
            return AsyncIterator { try await iterator.next() }
        }
    }

    /// `bytes`, in one buffer (none when empty).
    public init(bytes: [UInt8]) {
        self.init(OneBuffer(bytes: bytes))
    }

    public func makeAsyncIterator() -> AsyncIterator { makeIterator() }

    /// Every byte, if there are at most `limit`; throws `TooLarge` as soon as there are more.
    public func collect(upTo limit: Int) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        for try await buffer in self {
            guard bytes.count + buffer.readableBytes <= limit else { throw TooLarge(limit: limit) }
            bytes += buffer.readableBytesView
        }
        return bytes
    }

    /// A body longer than its reader would take.
    public struct TooLarge: Error, CustomStringConvertible {
        public var limit: Int
        public var description: String { "more than \(limit) bytes" }
    }

    private struct OneBuffer: AsyncSequence, Sendable {
        typealias Element = ByteBuffer
        let bytes: [UInt8]

        struct AsyncIterator: AsyncIteratorProtocol {
            var bytes: [UInt8]?
            mutating func next() async throws -> ByteBuffer? {
                defer { bytes = nil }
                guard let bytes, !bytes.isEmpty else { return nil }
                return ByteBuffer(bytes: bytes)
            }
        }

        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(bytes: bytes) }
    }
}
