// The OCI distribution spec: https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md
import Foundation
import NIOHTTP1
import Synchronization

/// A client of one registry (`host[:port]`): probing, auth, retries. Blobs, manifests and
/// tags are in extensions. Every request goes through `transport` (one connection pool);
/// call `shutdown()` when done.
///
/// Not an actor: the work of a request (hashing a blob, writing it to disk) runs in the
/// caller's task, so several blobs move in parallel. The state requests share (the probe,
/// tokens) lives in `Authorizer` and `probe`.
public final class RegistryClient: Sendable {
    /// The registry's `host[:port]`.
    public let host: String
    let options: RegistryOptions
    let transport: any HTTPTransport
    let authorizer: Authorizer
    /// Waits between retries (seconds); tests record the waits instead.
    let pause: @Sendable (Double) async throws -> Void
    /// The probe of `/v2/`, made once: concurrent first requests wait for the same one, and
    /// a failed probe is made again by the next request.
    private let probe = Mutex<Task<String, any Error>?>(nil)

    /// A client of `host` over `transport` (by default AsyncHTTPClient, verifying TLS unless
    /// `options.insecure`).
    public init(
        host: String, options: RegistryOptions, transport: (any HTTPTransport)? = nil,
        pause: @escaping @Sendable (Double) async throws -> Void = { try await Task.sleep(nanoseconds: UInt64($0 * 1e9)) }
    ) {
        self.host = host
        self.options = options
        let transport = transport ?? AsyncHTTPClientTransport(insecure: options.insecure)
        self.transport = transport
        self.authorizer = Authorizer(host: host, options: options, transport: transport)
        self.pause = pause
    }

    /// Closes the connections. The client cannot be used after.
    public func shutdown() async {
        await transport.shutdown()
    }

    // MARK: Requests

    /// Sends `operation`, answering auth challenges and retrying what may be retried.
    /// Any status comes back; auth and retry exhaustion are handled here.
    func send(_ operation: RegistryOperation) async throws -> RegistryAnswer {
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
            var headers = HTTPHeaders()
            headers.add(name: "User-Agent", value: "bake")
            for (name, value) in operation.headers { headers.add(name: name, value: value) }
            let sentAuthorization = sameOrigin ? await authorizer.authorization(operation.scopes) : nil
            if let sentAuthorization { headers.add(name: "Authorization", value: sentAuthorization) }
            if operation.body != nil {
                if !headers.contains(name: "Content-Type") { headers.add(name: "Content-Type", value: "application/octet-stream") }
            } else if operation.method == .PUT || operation.method == .POST || operation.method == .PATCH {
                headers.add(name: "Content-Length", value: "0")
            }
            let answer: RegistryAnswer
            do {
                let request = TransportRequest(method: operation.method, url: url, headers: headers, body: operation.body, timeout: operation.deadline)
                answer = try await exchange(request, operation)
            } catch let failure as TransportError {
                if failure.kind == .untrustedCertificate { throw RegistryError.untrustedCertificate(host: host, cause: failure) }
                retry += 1
                guard operation.retries, retry < options.retry.attempts else {
                    throw RegistryError.unreachable(host: host, operation: operation.what, cause: failure)
                }
                try await pause(options.retry.delay(retry: retry, retryAfter: nil))
                continue
            }
            if answer.status == 401 {
                let detail = await answer.errorDetail().text
                guard !authenticated, sameOrigin else {
                    throw RegistryError.unauthorized(
                        host: host, repository: Self.repositories(operation.scopes), detail: detail, credentialsGiven: options.credentials != nil)
                }
                try await authorizer.answer(
                    challenges: answer.headers["WWW-Authenticate"], scopes: operation.scopes, sent: sentAuthorization, detail: detail)
                authenticated = true
                continue
            }
            if answer.status == 429 || (500...599).contains(answer.status) {
                retry += 1
                if operation.retries, retry < options.retry.attempts {
                    await answer.drain()
                    try await pause(options.retry.delay(retry: retry, retryAfter: answer.header("Retry-After")))
                    continue
                }
            }
            return answer
        }
    }

    /// An error for an answer the operation did not expect: names unauthorized, denied and
    /// unknown repositories and manifests.
    func failure(_ answer: RegistryAnswer, _ operation: RegistryOperation, reference: String? = nil) async -> RegistryError {
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

    // MARK: Probe

    /// `https://host` or, with `--insecure` and a registry without TLS, `http://host`: found
    /// by the first request, once.
    func baseURL() async throws -> String {
        let task = probe.withLock { current -> Task<String, any Error> in
            if let current { return current }
            let task = Task { try await self.findBaseURL() }
            current = task
            return task
        }
        do {
            return try await task.value
        } catch {
            probe.withLock { if $0 == task { $0 = nil } }
            throw error
        }
    }

    /// One request and its response. For a small answer (`operation.bodyLimit`), the body is
    /// read in full within the operation's deadline, so a registry that trickles it a byte at a
    /// time is given up on, naming the request (not retried: it answered, slowly).
    private func exchange(_ request: TransportRequest, _ operation: RegistryOperation) async throws -> RegistryAnswer {
        guard let limit = operation.bodyLimit else { return RegistryAnswer(try await transport.execute(request), url: request.url) }
        let (host, what, deadline, transport) = (host, operation.what, operation.deadline, transport)
        return try await withDeadline(deadline, timedOut: { RegistryError.timedOut(host: host, operation: what, after: deadline) }) {
            let answer = RegistryAnswer(try await transport.execute(request), url: request.url)
            // An error text is read too, at most 64 KiB of it.
            let ok = (200...299).contains(answer.status)
            let bytes = ok ? try await answer.bytes(limit: limit) : ((try? await answer.bytes(limit: 64 << 10)) ?? [])
            return answer.with(body: bytes)
        }
    }

    /// Sends a small-answer operation (a manifest, a tag list, a HEAD): each attempt, body
    /// included, within the small-answer deadline. The body of a 2xx answer (up to `limit`
    /// bytes) comes back read; an error's body stays in the answer for `failure`.
    func smallAnswer(_ operation: RegistryOperation, limit: Int) async throws -> (answer: RegistryAnswer, bytes: [UInt8]) {
        var small = operation
        small.bodyLimit = limit
        small.deadline = options.smallAnswerDeadline
        let answer = try await send(small)
        guard (200...299).contains(answer.status) else { return (answer, []) }
        return (answer, try await answer.bytes(limit: limit))
    }

    /// Finds how to reach the registry: `GET /v2/` over https; with `--insecure`, plain
    /// http when https fails its handshake, is refused, or is not a registry (as docker and
    /// containerd do for insecure registries). Without `--insecure`, a registry that answers
    /// plain HTTP is named as such, not as a certificate problem.
    private func findBaseURL() async throws -> String {
        let candidates = options.insecure ? ["https://\(host)", "http://\(host)"] : ["https://\(host)"]
        var lastError: (any Error)?
        candidates: for candidate in candidates {
            // Fewer tries than other requests: a registry that does not answer its probe is
            // most likely down, and the user should hear so in seconds.
            let attempts = max(1, min(3, options.retry.attempts))
            for attempt in 1...attempts {
                var headers = HTTPHeaders()
                headers.add(name: "User-Agent", value: "bake")
                do {
                    let (host, transport, deadline) = (host, transport, options.smallAnswerDeadline)
                    let probe = TransportRequest(method: .GET, url: candidate + "/v2/", headers: headers, timeout: .seconds(30))
                    let response = try await withDeadline(
                        deadline, timedOut: { RegistryError.timedOut(host: host, operation: "probe of \(probe.url)", after: deadline) }
                    ) {
                        let response = try await transport.execute(probe)
                        _ = try? await response.body.collect(upTo: 64 << 10)
                        return response
                    }
                    // 200: open; 401: there, asking for credentials. Anything else is not a registry (yet).
                    if response.status == 200 || response.status == 401 { return candidate }
                    lastError = RegistryError.unexpectedStatus(host: host, operation: "GET \(candidate)/v2/", status: response.status, detail: "")
                    if response.status == 429 || (500...599).contains(response.status), attempt < attempts {
                        try await pause(options.retry.delay(retry: attempt, retryAfter: response.headers.first(name: "Retry-After")))
                        continue
                    }
                    continue candidates
                } catch let failure as TransportError {
                    lastError = failure
                    if failure.kind == .untrustedCertificate {
                        // Without --insecure, this is the answer; with it, plain http may work.
                        if !options.insecure {
                            if await answersPlainHTTP() { throw RegistryError.plainHTTP(host: host) }
                            throw RegistryError.untrustedCertificate(host: host, cause: failure)
                        }
                        continue candidates
                    }
                    if failure.isRefused && attempt == attempts { continue candidates }
                    if attempt < attempts { try await pause(options.retry.delay(retry: attempt, retryAfter: nil)) }
                }
            }
        }
        if let error = lastError as? RegistryError { throw error }
        throw RegistryError.unreachable(host: host, operation: nil, cause: lastError ?? TransportError(.connectionLost, "no answer"))
    }

    /// True if `http://host/v2/` answers as a registry (200 or 401): what a failed TLS
    /// handshake most often means. Sent without credentials; the answer is only looked at.
    private func answersPlainHTTP() async -> Bool {
        var headers = HTTPHeaders()
        headers.add(name: "User-Agent", value: "bake")
        guard let response = try? await transport.execute(
            TransportRequest(method: .GET, url: "http://\(host)/v2/", headers: headers, timeout: .seconds(10)))
        else { return false }
        _ = try? await response.body.collect(upTo: 64 << 10)
        return response.status == 200 || response.status == 401
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
}
