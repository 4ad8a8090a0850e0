// The OCI distribution spec: https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import OCI

/// How a client talks to one registry.
public struct RegistryOptions: Sendable {
    /// Accept plain HTTP and certificates that do not verify (`--insecure`).
    public var insecure: Bool
    /// Credentials for basic auth and token servers; nil: anonymous.
    public var credentials: RegistryCredentials?
    /// Retries for 429, 5xx and dropped connections.
    public var retry: RetryPolicy
    /// Blobs up to this size go up in one request; larger ones in chunks.
    public var monolithicLimit: Int64
    /// The size of each chunk of a chunked upload (raised to the registry's minimum).
    public var chunkSize: Int64

    public init(
        insecure: Bool = false, credentials: RegistryCredentials? = nil, retry: RetryPolicy = .standard,
        monolithicLimit: Int64 = 8 << 20, chunkSize: Int64 = 8 << 20
    ) {
        self.insecure = insecure
        self.credentials = credentials
        self.retry = retry
        self.monolithicLimit = monolithicLimit
        self.chunkSize = chunkSize
    }
}

/// Bounded exponential backoff.
public struct RetryPolicy: Sendable {
    /// Attempts in all, the first included.
    public var attempts: Int
    /// The wait before the first retry; doubled for each further retry.
    public var initialDelay: Double
    /// The longest wait between two attempts of bake's own choosing.
    public var maximumDelay: Double
    /// The longest wait a registry's `Retry-After` may ask for (rate limits ask for more than
    /// a transient failure needs).
    public var maximumRetryAfter: Double

    public init(attempts: Int, initialDelay: Double, maximumDelay: Double, maximumRetryAfter: Double = 60) {
        self.attempts = attempts
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.maximumRetryAfter = maximumRetryAfter
    }

    /// 6 attempts, 0.25 s doubling up to 4 s: about 10 s of trying in all, unless the
    /// registry asks for longer with Retry-After (up to 60 s a wait).
    public static let standard = RetryPolicy(attempts: 6, initialDelay: 0.25, maximumDelay: 4)

    /// The wait before retry number `retry` (1-based): the registry's Retry-After (seconds)
    /// up to `maximumRetryAfter`, else bake's backoff.
    func delay(retry: Int, retryAfter: String?) -> Double {
        if let retryAfter, let seconds = Double(retryAfter.trimmingCharacters(in: .whitespaces)), seconds >= 0 {
            return min(seconds, maximumRetryAfter)
        }
        return min(initialDelay * pow(2, Double(retry - 1)), maximumDelay)
    }
}

/// A client of one registry (`host[:port]`): probing, auth, retries. Blobs, manifests and
/// tags are in extensions. One HTTP connection pool per client; call `shutdown()` when done.
public actor RegistryClient {
    /// The registry's `host[:port]`.
    public let host: String
    let options: RegistryOptions
    let http: HTTPClient
    /// `https://host` or, with `--insecure` and a registry without TLS, `http://host`.
    private var base: String?
    /// Send basic credentials with every request (the registry asked for basic auth).
    private var useBasic = false
    /// Bearer tokens by the scopes they were issued for.
    private var tokens: [String: String] = [:]

    public init(host: String, options: RegistryOptions) {
        self.host = host
        self.options = options
        var tls = TLSConfiguration.makeClientConfiguration()
        if options.insecure { tls.certificateVerification = .none }
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: tls,
            // Redirects are followed by hand: credentials must not go to another host.
            redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(5), read: .seconds(120)),
            decompression: .disabled)
        configuration.httpVersion = .http1Only
        // bake retries itself, with backoff and a bound; the pool's own retrying of a failed
        // connection would hold every attempt until the connect timeout.
        configuration.connectionPool.retryConnectionEstablishment = false
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Closes the connections. The client cannot be used after.
    public func shutdown() async {
        try? await http.shutdown()
    }

    // MARK: Requests

    /// A request body that can be made again for each attempt.
    enum Body: Sendable {
        case bytes([UInt8])
        case file(path: String, offset: Int64, length: Int64)

        var length: Int64 {
            switch self {
            case .bytes(let bytes): return Int64(bytes.count)
            case .file(_, _, let length): return length
            }
        }

        var request: HTTPClientRequest.Body {
            switch self {
            case .bytes(let bytes): return .bytes(ByteBuffer(bytes: bytes))
            case .file(let path, let offset, let length):
                return .stream(FileChunks(path: path, offset: offset, length: length), length: .known(length))
            }
        }
    }

    /// One registry operation: what to send, the repositories it touches (for token scopes)
    /// and a description for errors.
    struct Operation: Sendable {
        var method: HTTPMethod
        /// A path starting with `/v2/` or an absolute URL the registry gave (a Location).
        var url: String
        var headers: [(String, String)] = []
        var body: Body?
        /// `repository:NAME:ACTIONS` scopes the request needs.
        var scopes: [String]
        /// `push of blob sha256:...`, for error messages.
        var what: String
        /// Retry on 429, 5xx and dropped connections; off for requests whose retry the
        /// caller handles (a chunk of an upload).
        var retries = true
        /// Wait this long at most for the whole exchange.
        var deadline: TimeAmount = .hours(1)
    }

    /// A response with its body not yet read.
    struct Answer {
        var status: Int
        var headers: HTTPHeaders
        var body: HTTPClientResponse.Body
        /// The URL the request went to, which a relative Location is resolved against.
        var url: String

        func header(_ name: String) -> String? { headers.first(name: name) }

        /// The Location header as an absolute URL.
        var location: String? {
            header("Location").map { RegistryClient.resolve($0, against: url) }
        }

        /// The body as bytes, up to `limit`.
        func bytes(limit: Int = 1 << 20) async throws -> [UInt8] {
            var buffer = try await body.collect(upTo: limit)
            return buffer.readBytes(length: buffer.readableBytes) ?? []
        }

        /// Reads and drops a body the caller does not need, so the connection can be reused.
        func drain() async {
            _ = try? await bytes(limit: 64 << 10)
        }

        /// The registry's error text (`errors[].code: message`) or the start of the body.
        func errorDetail() async -> (code: String?, text: String) {
            guard let bytes = try? await self.bytes(limit: 64 << 10) else { return (nil, "") }
            struct Errors: Decodable {
                struct Item: Decodable { var code: String?; var message: String? }
                var errors: [Item]?
            }
            if let decoded = try? JSONDecoder().decode(Errors.self, from: Data(bytes)), let items = decoded.errors, let first = items.first {
                let text = items.map { [$0.code, $0.message].compactMap { $0 }.joined(separator: ": ") }.joined(separator: "; ")
                return (first.code, text)
            }
            let text = String(decoding: bytes.prefix(200), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            return (nil, text)
        }
    }

    /// Sends `operation`, answering auth challenges and retrying what may be retried.
    /// Any status comes back; auth and retry exhaustion are handled here.
    func send(_ operation: Operation) async throws -> Answer {
        let base = try await baseURL()
        let url = Self.resolve(operation.url, against: base)
        // Credentials go to the registry only: not to another host a Location or Link names,
        // and never over plain http unless --insecure allowed it.
        let sameOrigin = Self.origin(url) == Self.origin(base)
        if url.hasPrefix("http://") && !options.insecure {
            throw RegistryError.invalidResponse(host: host, operation: operation.what, detail: "it sent bake to plain http (\(Self.origin(url)))")
        }
        var retry = 0
        var authenticated = false
        while true {
            var request = HTTPClientRequest(url: url)
            request.method = operation.method
            request.headers.add(name: "User-Agent", value: "bake")
            for (name, value) in operation.headers { request.headers.add(name: name, value: value) }
            let sentAuthorization = sameOrigin ? authorization(operation.scopes) : nil
            if let sentAuthorization { request.headers.add(name: "Authorization", value: sentAuthorization) }
            if let body = operation.body {
                request.body = body.request
                if operation.headers.first(where: { $0.0 == "Content-Type" }) == nil {
                    request.headers.add(name: "Content-Type", value: "application/octet-stream")
                }
            } else if operation.method == .PUT || operation.method == .POST || operation.method == .PATCH {
                request.headers.add(name: "Content-Length", value: "0")
            }
            let answer: Answer
            do {
                let response = try await http.execute(request, timeout: operation.deadline)
                answer = Answer(status: Int(response.status.code), headers: response.headers, body: response.body, url: url)
            } catch {
                if let tls = Self.tlsFailure(error) { throw RegistryError.untrustedCertificate(host: host, cause: tls) }
                retry += 1
                guard operation.retries, retry < options.retry.attempts, !(error is CancellationError) else {
                    throw RegistryError.unreachable(host: host, cause: "\(operation.what): \(Self.describe(error))")
                }
                try await Task.sleep(nanoseconds: UInt64(options.retry.delay(retry: retry, retryAfter: nil) * 1e9))
                continue
            }
            if answer.status == 401 {
                let detail = await answer.errorDetail().text
                guard !authenticated, sameOrigin else {
                    throw RegistryError.unauthorized(
                        host: host, repository: Self.repositories(operation.scopes), detail: detail, credentialsGiven: options.credentials != nil)
                }
                // A request sent without credentials while a concurrent one obtained them
                // (basic switched on, a token fetched) is simply sent again with them.
                if sentAuthorization != nil || authorization(operation.scopes) == nil {
                    try await authenticate(challenges: answer.headers["WWW-Authenticate"], scopes: operation.scopes, detail: detail)
                }
                authenticated = true
                continue
            }
            if answer.status == 429 || (500...599).contains(answer.status) {
                retry += 1
                if operation.retries, retry < options.retry.attempts {
                    await answer.drain()
                    try await Task.sleep(nanoseconds: UInt64(options.retry.delay(retry: retry, retryAfter: answer.header("Retry-After")) * 1e9))
                    continue
                }
            }
            return answer
        }
    }

    /// An error for an answer the operation did not expect: names unauthorized, denied and
    /// unknown repositories and manifests.
    func failure(_ answer: Answer, _ operation: Operation, reference: String? = nil) async -> RegistryError {
        let (code, text) = await answer.errorDetail()
        let repositories = Self.repositories(operation.scopes)
        switch (answer.status, code) {
        case (401, _): return .unauthorized(host: host, repository: repositories, detail: text, credentialsGiven: options.credentials != nil)
        case (403, _): return .denied(host: host, repository: repositories, detail: text)
        case (404, "NAME_UNKNOWN"?): return .unknownRepository(host: host, repository: repositories)
        case (404, "MANIFEST_UNKNOWN"?) where reference != nil: return .unknownManifest(reference: reference!)
        case (429, _), (500...599, _):
            return .unavailable(host: host, operation: operation.what, status: answer.status, detail: text)
        default: return .unexpectedStatus(host: host, operation: operation.what, status: answer.status, detail: text)
        }
    }

    // MARK: Probe and auth

    /// Finds how to reach the registry: `GET /v2/` over https; with `--insecure`, plain
    /// http when https fails its handshake, is refused, or is not a registry (as docker and
    /// containerd do for insecure registries).
    private func baseURL() async throws -> String {
        if let base { return base }
        let candidates = options.insecure ? ["https://\(host)", "http://\(host)"] : ["https://\(host)"]
        var lastError: Error?
        candidates: for candidate in candidates {
            // Fewer tries than other requests: a registry that does not answer its probe is
            // most likely down, and the user should hear so in seconds.
            let attempts = max(1, min(3, options.retry.attempts))
            for attempt in 1...attempts {
                var request = HTTPClientRequest(url: candidate + "/v2/")
                request.headers.add(name: "User-Agent", value: "bake")
                do {
                    let response = try await http.execute(request, timeout: .seconds(30))
                    _ = try? await response.body.collect(upTo: 64 << 10)
                    let status = Int(response.status.code)
                    // 200: open; 401: there, asking for credentials. Anything else is not a registry (yet).
                    if status == 200 || status == 401 {
                        base = candidate
                        return candidate
                    }
                    lastError = RegistryError.unexpectedStatus(host: host, operation: "GET \(candidate)/v2/", status: status, detail: "")
                    if status == 429 || (500...599).contains(status), attempt < attempts {
                        try await Task.sleep(nanoseconds: UInt64(options.retry.delay(retry: attempt, retryAfter: response.headers.first(name: "Retry-After")) * 1e9))
                        continue
                    }
                    continue candidates
                } catch {
                    if error is CancellationError { throw error }
                    lastError = error
                    if let tls = Self.tlsFailure(error) {
                        // Without --insecure, this is the answer; with it, plain http may work.
                        if !options.insecure { throw RegistryError.untrustedCertificate(host: host, cause: tls) }
                        continue candidates
                    }
                    if Self.isRefused(error) && attempt == attempts { continue candidates }
                    if attempt < attempts {
                        try await Task.sleep(nanoseconds: UInt64(options.retry.delay(retry: attempt, retryAfter: nil) * 1e9))
                    }
                }
            }
        }
        if let error = lastError as? RegistryError { throw error }
        throw RegistryError.unreachable(host: host, cause: lastError.map(Self.describe) ?? "no answer")
    }

    /// True for a connection that cannot be made whatever the scheme: the host refused it
    /// (nothing listens on the port) or its name does not resolve.
    static func isRefused(_ error: Error) -> Bool {
        if let io = error as? IOError { return io.errnoCode == ECONNREFUSED }
        return error is SocketAddressError
    }

    private func authorization(_ scopes: [String]) -> String? {
        if useBasic, let credentials = options.credentials { return credentials.basicAuthorization }
        if let exact = tokens[scopes.joined(separator: " ")] { return exact }
        // A token granted for more (pull,push) serves a request that needs less (pull).
        let wanted = Set(scopes.flatMap(Self.expand))
        return tokens.first { Set($0.key.split(separator: " ").map(String.init).flatMap(Self.expand)).isSuperset(of: wanted) }?.value
    }

    /// `repository:a:pull,push` -> [`repository:a:pull`, `repository:a:push`].
    private static func expand(_ scope: String) -> [String] {
        guard let colon = scope.lastIndex(of: ":") else { return [scope] }
        return scope[scope.index(after: colon)...].split(separator: ",").map { scope[..<colon] + ":" + $0 }
    }

    /// Answers a 401: basic auth if the registry asks for it, else a token from the realm.
    private func authenticate(challenges header: [String], scopes: [String], detail: String) async throws {
        let challenges = header.flatMap(AuthChallenge.parse)
        let repositories = Self.repositories(scopes)
        if let bearer = challenges.first(where: { $0.scheme == "bearer" }), let realm = bearer.parameters["realm"] {
            var requested = scopes
            if let scope = bearer.parameters["scope"] {
                for item in scope.split(separator: " ").map(String.init) where !requested.contains(item) { requested.append(item) }
            }
            guard var components = URLComponents(string: realm) else {
                throw RegistryError.invalidResponse(host: host, operation: "auth", detail: "the token realm '\(realm)' is not a URL")
            }
            var query = components.queryItems ?? []
            if let service = bearer.parameters["service"] { query.append(URLQueryItem(name: "service", value: service)) }
            for scope in requested { query.append(URLQueryItem(name: "scope", value: scope)) }
            components.queryItems = query
            var request = HTTPClientRequest(url: components.string ?? realm)
            request.headers.add(name: "User-Agent", value: "bake")
            if let credentials = options.credentials { request.headers.add(name: "Authorization", value: credentials.basicAuthorization) }
            let response: HTTPClientResponse
            do {
                response = try await http.execute(request, timeout: .seconds(60))
            } catch {
                throw RegistryError.unreachable(host: host, cause: "the token server \(realm): \(Self.describe(error))")
            }
            let bytes: [UInt8]
            do {
                var body = try await response.body.collect(upTo: 1 << 20)
                bytes = body.readBytes(length: body.readableBytes) ?? []
            } catch {
                throw RegistryError.unreachable(host: host, cause: "the token server \(realm): \(Self.describe(error))")
            }
            guard response.status == .ok else {
                throw RegistryError.unauthorized(
                    host: host, repository: repositories, detail: "the token server \(realm) answered \(response.status.code)",
                    credentialsGiven: options.credentials != nil)
            }
            struct TokenAnswer: Decodable { var token: String?; var access_token: String? }
            guard let answer = try? JSONDecoder().decode(TokenAnswer.self, from: Data(bytes)), let token = answer.token ?? answer.access_token, !token.isEmpty else {
                throw RegistryError.invalidResponse(host: host, operation: "auth", detail: "the token server \(realm) sent no token")
            }
            tokens[scopes.joined(separator: " ")] = "Bearer " + token
            return
        }
        if challenges.contains(where: { $0.scheme == "basic" }) {
            guard options.credentials != nil, !useBasic else {
                throw RegistryError.unauthorized(host: host, repository: repositories, detail: detail, credentialsGiven: options.credentials != nil)
            }
            useBasic = true
            return
        }
        throw RegistryError.unauthorized(host: host, repository: repositories, detail: detail, credentialsGiven: options.credentials != nil)
    }

    // MARK: Helpers

    /// `location` (absolute, scheme-relative, absolute-path or relative) as an absolute URL.
    static func resolve(_ location: String, against url: String) -> String {
        if location.hasPrefix("http://") || location.hasPrefix("https://") { return location }
        if let resolved = URL(string: location, relativeTo: URL(string: url))?.absoluteString { return resolved }
        return Self.origin(url) + location
    }

    /// `scheme://host[:port]` of a URL.
    static func origin(_ url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        return String(url[..<end])
    }

    /// `repository:a/b:pull,push` for a repository and its actions.
    static func scope(_ repository: String, _ actions: String) -> String { "repository:\(repository):\(actions)" }

    static func repositories(_ scopes: [String]) -> String {
        let names = scopes.compactMap { scope -> String? in
            let parts = scope.split(separator: ":")
            return parts.count >= 3 ? String(parts[1]) : nil
        }
        return names.isEmpty ? "the registry" : names.joined(separator: ", ")
    }

    /// A text for a TLS failure, or nil if the error is not one.
    static func tlsFailure(_ error: Error) -> String? {
        if let ssl = error as? NIOSSLError { return "\(ssl)" }
        if let boring = error as? BoringSSLError { return "\(boring)" }
        return nil
    }

    static func describe(_ error: Error) -> String {
        if let client = error as? HTTPClientError { return "\(client)" }
        if let io = error as? IOError { return String(cString: strerror(io.errnoCode)).lowercased() }
        if case SocketAddressError.unknown(let host, _) = error { return "the name \(host) does not resolve" }
        return String(describing: error)
    }
}

/// The bytes of part of a file as a stream of buffers, for request bodies: memory stays at
/// one buffer whatever the file's size.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let path: String
    let offset: Int64
    let length: Int64

    struct AsyncIterator: AsyncIteratorProtocol {
        let reader: Reader

        mutating func next() async throws -> ByteBuffer? { try reader.next() }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(reader: Reader(path: path, offset: offset, length: length))
    }

    /// Owns the file descriptor; reads are serial (one request body is read by one task).
    final class Reader: @unchecked Sendable {
        let path: String
        var position: Int64
        var remaining: Int64
        var descriptor: Int32 = -1

        init(path: String, offset: Int64, length: Int64) {
            self.path = path
            self.position = offset
            self.remaining = length
        }

        deinit { if descriptor >= 0 { close(descriptor) } }

        func next() throws -> ByteBuffer? {
            guard remaining > 0 else { return nil }
            if descriptor < 0 {
                descriptor = open(path, O_RDONLY | O_CLOEXEC)
                guard descriptor >= 0 else { throw IOError(errnoCode: errno, reason: "open \(path)") }
            }
            let want = Int(Swift.min(remaining, 1 << 20))
            var buffer = ByteBufferAllocator().buffer(capacity: want)
            let count = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: want) { pointer -> Int in
                var got: Int
                repeat { got = pread(descriptor, pointer.baseAddress, want, off_t(position)) } while got < 0 && errno == EINTR
                guard got > 0 else { throw IOError(errnoCode: got < 0 ? errno : EIO, reason: "read \(path)") }
                return got
            }
            position += Int64(count)
            remaining -= Int64(count)
            return buffer
        }
    }
}
