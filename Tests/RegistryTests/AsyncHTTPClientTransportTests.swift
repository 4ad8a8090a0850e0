import AsyncHTTPClient
import Glibc
import NIOCore
@testable import Registry
import Testing

/// The real transport's part that needs no network: what its failures say, and its pool's end.
@Suite struct AsyncHTTPClientTransportTests {
    @Test func libraryFailuresBecomeWordsWithTheErrorKept() throws {
        let refused = try #require(AsyncHTTPClientTransport.translate(IOError(errnoCode: ECONNREFUSED, reason: "connect")) as? TransportError)
        #expect(refused.kind == .refused && refused.description == "connection refused")
        #expect(refused.underlying is IOError)
        let closed = try #require(AsyncHTTPClientTransport.translate(HTTPClientError.remoteConnectionClosed) as? TransportError)
        #expect(closed.kind == .connectionLost && closed.description == "remote connection closed")
        #expect((closed.underlying as? HTTPClientError) == .remoteConnectionClosed)
        let slow = try #require(AsyncHTTPClientTransport.translate(HTTPClientError.readTimeout) as? TransportError)
        #expect(slow.kind == .timedOut && slow.description == "read timeout")
        // bake's own errors and cancellation pass as they are.
        #expect(AsyncHTTPClientTransport.translate(CancellationError()) is CancellationError)
        let unreadable = RegistryError.localFile(operation: "read", path: "/x", errno: ENOENT)
        #expect("\(AsyncHTTPClientTransport.translate(unreadable))" == "cannot read /x: No such file or directory")
    }

    @Test func failuresWithoutASentenceAreWordsWithoutTypeNames() throws {
        let tooMany = try #require(AsyncHTTPClientTransport.translate(NIOTooManyBytesError(maxBytes: 10)) as? TransportError)
        #expect(tooMany.description == "too many bytes")
        let closed = try #require(AsyncHTTPClientTransport.translate(ChannelError.ioOnClosedChannel) as? TransportError)
        #expect(closed.description == "I/O on closed channel")
        for error in [tooMany, closed] {
            #expect(!error.description.contains("NIO") && !error.description.contains("Error") && !error.description.contains("("))
        }
    }

    @Test func aTransportDroppedWithoutShutdownClosesItsPool() {
        // AsyncHTTPClient stops a debug process when a pool is released open; the transport
        // closes its own on the way out (an error path that never reached shutdown()).
        weak var dropped: AsyncHTTPClientTransport?
        do {
            let transport = AsyncHTTPClientTransport(insecure: false)
            dropped = transport
        }
        #expect(dropped == nil)
    }
}
