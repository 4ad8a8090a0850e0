import AsyncHTTPClient
import Glibc
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// The transport to real registries: AsyncHTTPClient, one connection pool per transport.
/// The only file that knows the HTTP library: its errors become `TransportError`s here, in
/// words, with the library's error kept underneath.
public final class AsyncHTTPClientTransport: HTTPTransport {
    private let client: HTTPClient

    /// `insecure`: certificates are not verified (`--insecure`; plain http is the client's
    /// decision, made per URL).
    public init(insecure: Bool) {
        var tls = TLSConfiguration.makeClientConfiguration()
        if insecure { tls.certificateVerification = .none }
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: tls,
            // Redirects are followed by the registry client: credentials must not go to another host.
            redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(5), read: .seconds(120)),
            decompression: .disabled)
        configuration.httpVersion = .http1Only
        // bake retries itself, with backoff and a bound; the pool's own retrying of a failed
        // connection would hold every attempt until the connect timeout.
        configuration.connectionPool.retryConnectionEstablishment = false
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    deinit {
        // A transport dropped without `shutdown()` (an error path) still closes its pool;
        // the pool keeps itself alive until it has.
        client.shutdown { _ in }
    }

    public func shutdown() async {
        try? await client.shutdown()
    }

    public func execute(_ request: TransportRequest) async throws -> TransportResponse {
        var outgoing = HTTPClientRequest(url: request.url)
        outgoing.method = request.method
        outgoing.headers = request.headers
        switch request.body {
        case nil: break
        case .bytes(let bytes)?: outgoing.body = .bytes(ByteBuffer(bytes: bytes))
        case .file(let path, let offset, let length)?:
            outgoing.body = .stream(FileChunks(path: path, offset: offset, length: length), length: .known(length))
        }
        let timeout = request.timeout.components
        do {
            let response = try await client.execute(
                outgoing, timeout: .nanoseconds(timeout.seconds * 1_000_000_000 + timeout.attoseconds / 1_000_000_000))
            return TransportResponse(
                status: Int(response.status.code), headers: response.headers, body: ByteStream(TranslatedBody(body: response.body)))
        } catch {
            throw Self.translate(error)
        }
    }

    /// A response body whose failures are `TransportError`s too.
    private struct TranslatedBody: AsyncSequence, Sendable {
        typealias Element = ByteBuffer
        let body: HTTPClientResponse.Body

        struct AsyncIterator: AsyncIteratorProtocol {
            var iterator: HTTPClientResponse.Body.AsyncIterator
            mutating func next() async throws -> ByteBuffer? {
                do { return try await iterator.next() } catch { throw AsyncHTTPClientTransport.translate(error) }
            }
        }

        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(iterator: body.makeAsyncIterator()) }
    }

    /// The library's error as a `TransportError`; bake's own errors (a request body that could
    /// not be read) and cancellation pass as they are.
    static func translate(_ error: any Error) -> any Error {
        switch error {
        case is CancellationError, is RegistryError, is TransportError:
            return error
        case let io as IOError:
            let words = String(cString: strerror(io.errnoCode)).lowercased()
            return TransportError(io.errnoCode == ECONNREFUSED ? .refused : .connectionLost, words, underlying: error)
        case SocketAddressError.unknown(let host, _):
            return TransportError(.unresolvable, "the name \(host) does not resolve", underlying: error)
        case let unknown as SocketAddressError.UnknownHost:
            return TransportError(.unresolvable, "the name \(unknown.host) does not resolve", underlying: error)
        case let connection as NIOConnectionError:
            if connection.dnsAError != nil || connection.dnsAAAAError != nil {
                return TransportError(.unresolvable, "the name \(connection.host) does not resolve", underlying: error)
            }
            // Every address refused (or failed) the connection: the first failure says why.
            guard let first = connection.connectionErrors.first.map({ translate($0.error) }) as? TransportError else {
                return TransportError(.connectionLost, "no connection to \(connection.host):\(connection.port)", underlying: error)
            }
            return TransportError(first.kind, first.description, underlying: error)
        case let ssl as NIOSSLError:
            return TransportError(.untrustedCertificate, Self.words(ssl), underlying: error)
        case let boring as BoringSSLError:
            return TransportError(.untrustedCertificate, Self.words(boring), underlying: error)
        case let extra as NIOSSLExtraError:
            // "NIOSSLExtraError.failedToValidateHostname: Couldn't find x in certificate from peer"
            let text = "\(extra)"
            let words = text.range(of: ": ").map { String(text[$0.upperBound...]) } ?? text
            return TransportError(.untrustedCertificate, words, underlying: error)
        case let client as HTTPClientError:
            let timedOut: [HTTPClientError] = [.readTimeout, .writeTimeout, .connectTimeout, .deadlineExceeded, .tlsHandshakeTimeout]
            return TransportError(
                timedOut.contains(client) ? .timedOut : .connectionLost, client.shortDescription.lowercased(), underlying: error)
        default:
            return TransportError(.connectionLost, words(describing: error), underlying: error)
        }
    }

    /// An error of the HTTP stack bake has no sentence for, in words and without the library's
    /// type names: `NIOTooManyBytesError(maxBytes: 10)` -> "too many bytes",
    /// `SomeError.connectionWentAway` -> "connection went away"; a phrase stays as it is.
    static func words(describing error: any Error) -> String {
        var name = String(describing: type(of: error))
        let text = String(describing: error)
        // A description that is already a phrase ("I/O on closed channel") is kept.
        if text.contains(" "), !text.contains("("), !text.contains(name) { return text }
        // An enum case reads `Type.case(...)` or `case(...)`: the case says more than the type.
        if let dot = text.firstIndex(of: "."), text[..<dot].allSatisfy({ $0.isLetter || $0.isNumber }) {
            name = String(text[text.index(after: dot)...])
        } else if text.first?.isLowercase == true {
            name = text
        }
        name = String(name.prefix { $0 != "(" && $0 != ":" })
        for prefix in ["NIOSSL", "NIO", "HTTPClient", "BoringSSL"] where name.hasPrefix(prefix) { name.removeFirst(prefix.count) }
        if name.hasSuffix("Error") { name.removeLast(5) }
        var spoken = ""
        for character in name {
            if character.isUppercase, !spoken.isEmpty, spoken.last != " " { spoken += " " }
            spoken += character.lowercased()
        }
        let phrase = spoken.trimmingCharacters(in: .whitespaces)
        return phrase.isEmpty ? "the connection failed" : phrase
    }

    /// A TLS failure in words: BoringSSL's reasons ("certificate verify failed"), without the
    /// library's type names or the paths of its sources.
    private static func words(_ error: NIOSSLError) -> String {
        switch error {
        case .handshakeFailed(let boring): return "the TLS handshake failed: " + words(boring)
        case .shutdownFailed(let boring): return "the TLS shutdown failed: " + words(boring)
        default: return "TLS: " + words(describing: error)
        }
    }

    private static func words(_ error: BoringSSLError) -> String {
        switch error {
        case .sslError(let stack), .unknownError(let stack), .invalidSNIName(let stack), .failedToSetALPN(let stack):
            // Each entry reads "Error: CODE error:HEX:LIBRARY:FUNCTION:REASON at FILE:LINE".
            let reasons = stack.map { entry -> String in
                var text = "\(entry)"
                if let at = text.range(of: " at ", options: .backwards) { text = String(text[..<at.lowerBound]) }
                let reason = text.split(separator: ":").last.map(String.init) ?? text
                return reason.replacingOccurrences(of: "_", with: " ").lowercased()
            }
            return reasons.isEmpty ? AsyncHTTPClientTransport.words(describing: error) : reasons.joined(separator: "; ")
        default:
            return AsyncHTTPClientTransport.words(describing: error)
        }
    }
}
