import NIOHTTP1

/// A response whose head has arrived; its body streams from `body`.
public struct TransportResponse: Sendable {
    /// The status code.
    public var status: Int
    /// Every header the server sent.
    public var headers: HTTPHeaders
    /// The body, read at most once. A body not read to its end costs the connection (it
    /// cannot be reused), so the client drains short ones it does not need.
    public var body: ByteStream

    public init(status: Int, headers: HTTPHeaders = [:], body: ByteStream = ByteStream(bytes: [])) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}
