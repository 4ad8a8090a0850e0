/// A request that got no (complete) response: why, in words a user understands, with the HTTP
/// library's own error kept as `underlying` for whoever needs more than the sentence.
public struct TransportError: Error, CustomStringConvertible {
    /// What kind of failure, which decides what the client does next.
    public enum Kind: Sendable, Hashable {
        /// The host refused the connection (nothing listens on the port).
        case refused
        /// The host name does not resolve.
        case unresolvable
        /// The TLS handshake failed: a certificate that does not verify, or no TLS at all.
        case untrustedCertificate
        /// No answer within the timeout.
        case timedOut
        /// The connection broke before the response was complete.
        case connectionLost
    }

    public var kind: Kind
    /// One phrase: "connection refused", "the name x does not resolve".
    public var description: String
    /// The HTTP library's error, when there was one.
    public var underlying: (any Error)?

    public init(_ kind: Kind, _ description: String, underlying: (any Error)? = nil) {
        self.kind = kind
        self.description = description
        self.underlying = underlying
    }

    /// True for a connection that cannot be made whatever the scheme.
    var isRefused: Bool { kind == .refused || kind == .unresolvable }
}
