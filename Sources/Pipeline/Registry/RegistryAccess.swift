import Foundation
import OCI
import Registry

/// How bake reaches registries: which hosts may be plain HTTP or self-signed, and the
/// credentials given on the command line. Credentials not given here come from
/// `BAKE_REGISTRY_USER`/`BAKE_REGISTRY_PASSWORD` or the docker config, per host.
///
/// Every copy of one access shares its `sessions`: the command's clients, one per registry.
/// What uses them closes them when done (`Builder.build` and `Upstreams.check` through their
/// fetcher, `Pusher.push`, `Retagger.retag`).
public struct RegistryAccess: Sendable {
    /// Hosts (`host[:port]`) that may answer over plain HTTP or with an unverified certificate.
    public var insecureHosts: Set<String>
    /// `USER:PASS` from `--creds`, for every host.
    public var credentials: String?
    /// The environment credentials and the docker config are read from.
    public var environment: [String: String]
    /// The command's registry clients.
    let sessions: RegistrySessions

    public init(insecureHosts: Set<String> = [], credentials: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.init(insecureHosts: insecureHosts, credentials: credentials, environment: environment, sessions: RegistrySessions())
    }

    init(insecureHosts: Set<String>, credentials: String?, environment: [String: String], sessions: RegistrySessions) {
        self.insecureHosts = insecureHosts
        self.credentials = credentials
        self.environment = environment
        self.sessions = sessions
    }

    /// The command's client of `host`, made on first use. Bad credentials are bad input (exit 2).
    func client(for host: String) throws -> RegistryClient {
        let explicit = try credentials.map(RegistryCredentials.init(parsing:))
        let resolved = try RegistryCredentials.resolve(host: host, explicit: explicit, environment: environment)
        return sessions.client(RegistrySessions.Key(host: host, insecure: insecureHosts.contains(host), credentials: resolved))
    }

    /// Runs `body` with the command's client of `host`, from bake's synchronous pipeline (a
    /// thread of bake's own, never the concurrency pool).
    func with<T: Sendable>(host: String, _ body: @escaping @Sendable (RegistryClient) async throws -> T) throws -> T {
        let client = try client(for: host)
        return try Blocking.run { try await body(client) }
    }

    /// Closes the connections of every client the command used; a client asked for later is a
    /// new one.
    public func shutdown() {
        sessions.shutdown()
    }

    /// Parses a reference given by a user, as bad input if it is not one.
    static func reference(_ text: String, what: String) throws -> Reference {
        do {
            return try Reference(parsing: text)
        } catch {
            throw PipelineError.badInput("\(what): \(error)")
        }
    }
}
