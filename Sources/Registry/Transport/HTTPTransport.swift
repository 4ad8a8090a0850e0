/// How the registry client reaches the network: one request out, one response back (its body
/// streamed). Every request the client makes goes through it: the probe, token requests,
/// uploads, downloads and redirects to storage. `AsyncHTTPClientTransport` is the real one;
/// tests give a scripted one, so auth, retries and resumed uploads are tested without a
/// registry process or a socket (as apple/swift-container-plugin's `HTTPClient` protocol).
///
/// A transport sends exactly what it is given: it follows no redirect, adds no credential and
/// retries nothing (the client decides all three, and where credentials may go).
public protocol HTTPTransport: Sendable {
    /// Sends `request` and returns as soon as the response head has arrived; the body streams
    /// after. Throws a `TransportError` when no response came (refused, unresolvable, TLS,
    /// dropped, timed out), and the request body's own error when reading it failed.
    func execute(_ request: TransportRequest) async throws -> TransportResponse

    /// Closes every connection. The transport cannot be used after.
    func shutdown() async
}
