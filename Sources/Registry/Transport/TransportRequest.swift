import NIOHTTP1

/// One HTTP request as the registry client sends it.
public struct TransportRequest: Sendable {
    /// GET, HEAD, PUT, POST, PATCH...
    public var method: HTTPMethod
    /// An absolute `http://` or `https://` URL.
    public var url: String
    /// Every header to send, `Authorization` included when the client decided it may go.
    public var headers: HTTPHeaders
    /// The body, if any.
    public var body: RequestBody?
    /// The longest the whole exchange may take.
    public var timeout: Duration

    public init(method: HTTPMethod, url: String, headers: HTTPHeaders = [:], body: RequestBody? = nil, timeout: Duration) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}

/// A request body that can be sent again for each attempt: bytes in memory (a manifest), or
/// part of a file (a blob or a chunk of one), read as it is sent so memory stays at one buffer.
public enum RequestBody: Sendable {
    case bytes([UInt8])
    case file(path: String, offset: Int64, length: Int64)

    /// Its length in bytes (sent as Content-Length).
    public var length: Int64 {
        switch self {
        case .bytes(let bytes): return Int64(bytes.count)
        case .file(_, _, let length): return length
        }
    }

    /// The bytes as a stream of buffers: a file part is read 1 MiB at a time, as it is sent.
    public var stream: ByteStream {
        switch self {
        case .bytes(let bytes): return ByteStream(bytes: bytes)
        case .file(let path, let offset, let length): return ByteStream(FileChunks(path: path, offset: offset, length: length))
        }
    }
}
