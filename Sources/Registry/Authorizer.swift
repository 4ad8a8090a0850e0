// The token flow: https://distribution.github.io/distribution/spec/auth/token/
import Foundation
import NIOHTTP1

/// What a client knows of a registry's auth: whether it wants basic credentials, and the
/// bearer tokens it has issued, by the scopes they were issued for. One per client, shared by
/// all its requests: a token fetched once serves every later request it covers, and requests
/// that need the same token at once wait for one fetch.
actor Authorizer {
    let host: String
    let credentials: RegistryCredentials?
    let transport: any HTTPTransport
    /// The registry is used with --insecure: a plain-HTTP token server is allowed.
    let insecure: Bool
    /// The longest a token request may take as a whole.
    let deadline: Duration
    /// Send basic credentials with every request (the registry asked for basic auth).
    private var basic = false
    /// Bearer tokens (`Bearer ...`) by the scopes they were issued for, space separated.
    private var tokens: [String: String] = [:]
    /// Token requests under way, by scopes.
    private var fetches: [String: Task<String, any Error>] = [:]

    init(host: String, options: RegistryOptions, transport: any HTTPTransport) {
        self.host = host
        self.credentials = options.credentials
        self.insecure = options.insecure
        self.deadline = options.smallAnswerDeadline
        self.transport = transport
    }

    /// The Authorization header for a request of the registry that needs `scopes`, if bake
    /// has one.
    func authorization(_ scopes: [String]) -> String? {
        if basic, let credentials { return credentials.basicAuthorization }
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

    /// Answers a 401 to a request that needs `scopes` and was sent with `sent` (nil: none):
    /// basic auth if the registry asks for it, else a token from the challenge's realm.
    /// Returns when the request may be sent again.
    func answer(challenges header: [String], scopes: [String], sent: String?, detail: String) async throws {
        // A request sent without credentials while another obtained them (basic switched
        // on, a token fetched) is simply sent again with them.
        if sent == nil, authorization(scopes) != nil { return }
        let challenges = header.flatMap(AuthChallenge.parse)
        if let bearer = challenges.first(where: { $0.scheme == "bearer" }), let realm = bearer.parameters["realm"] {
            let key = scopes.joined(separator: " ")
            if let fetch = fetches[key] {
                _ = try await fetch.value
                return
            }
            // Runs on this actor: the token is stored before anyone waiting for it resumes.
            let fetch = Task {
                defer { fetches[key] = nil }
                let token = try await self.token(realm: realm, challenge: bearer, scopes: scopes)
                tokens[key] = token
                return token
            }
            fetches[key] = fetch
            _ = try await fetch.value
            return
        }
        if challenges.contains(where: { $0.scheme == "basic" }) {
            guard credentials != nil, !basic else { throw unauthorized(scopes, detail: detail) }
            basic = true
            return
        }
        throw unauthorized(scopes, detail: detail)
    }

    /// A token from `realm` for `scopes` (and the scope the challenge names). The user's
    /// credentials go to the realm, the registry's token server, whatever its host (as docker
    /// and containerd send them: the registry names its auth server); the token then goes to
    /// the registry only. A realm on plain HTTP would get them in clear text: refused unless
    /// the registry itself is used with --insecure.
    private func token(realm: String, challenge: AuthChallenge, scopes: [String]) async throws -> String {
        if realm.lowercased().hasPrefix("http://") && !insecure {
            throw RegistryError.insecureRealm(host: host, realm: realm)
        }
        var requested = scopes
        if let scope = challenge.parameters["scope"] {
            for item in scope.split(separator: " ").map(String.init) where !requested.contains(item) { requested.append(item) }
        }
        guard var components = URLComponents(string: realm), components.scheme == "https" || components.scheme == "http" else {
            throw RegistryError.invalidResponse(host: host, operation: "auth", detail: "the token realm '\(realm)' is not a URL")
        }
        var query = components.queryItems ?? []
        if let service = challenge.parameters["service"] { query.append(URLQueryItem(name: "service", value: service)) }
        for scope in requested { query.append(URLQueryItem(name: "scope", value: scope)) }
        components.queryItems = query
        var headers = HTTPHeaders()
        headers.add(name: "User-Agent", value: "bake")
        if let credentials { headers.add(name: "Authorization", value: credentials.basicAuthorization) }
        let request = TransportRequest(method: .GET, url: components.string ?? realm, headers: headers, timeout: deadline)
        let bytes: [UInt8]
        let status: Int
        do {
            let (host, transport, limit, realmURL) = (host, transport, deadline, Self.withoutQuery(realm))
            (status, bytes) = try await withDeadline(
                limit, timedOut: { RegistryError.timedOut(host: host, operation: "token request to \(realmURL)", after: limit) }
            ) {
                let response = try await transport.execute(request)
                return (response.status, try await response.body.collect(upTo: 1 << 20))
            }
        } catch let failure as TransportError {
            throw RegistryError.unreachable(host: host, operation: "the token server \(realm)", cause: failure)
        } catch let tooLarge as ByteStream.TooLarge {
            throw RegistryError.invalidResponse(host: host, operation: "auth", detail: "the token server \(realm) sent \(tooLarge)")
        }
        guard status == 200 else {
            throw unauthorized(scopes, detail: "the token server \(realm) answered \(status)")
        }
        struct TokenAnswer: Decodable { var token: String?; var access_token: String? }
        guard let answer = try? JSONDecoder().decode(TokenAnswer.self, from: Data(bytes)), let token = answer.token ?? answer.access_token, !token.isEmpty else {
            throw RegistryError.invalidResponse(host: host, operation: "auth", detail: "the token server \(realm) sent no token")
        }
        return "Bearer " + token
    }

    /// `https://auth/token` of `https://auth/token?service=x`.
    private static func withoutQuery(_ url: String) -> String {
        String(url.prefix { $0 != "?" })
    }

    private func unauthorized(_ scopes: [String], detail: String) -> RegistryError {
        .unauthorized(host: host, repository: RegistryClient.repositories(scopes), detail: detail, credentialsGiven: credentials != nil)
    }
}
