import Registry
import Synchronization

/// The registry clients of one command: one per registry (and way of reaching it), made on
/// first use and reused by every push, pull and lookup of the command. So a registry is
/// probed once, a token is fetched once for its scopes, and connections are reused, however
/// many bases, blobs and tags the command touches. Shut down once, when the command is done.
final class RegistrySessions: Sendable {
    /// A registry and how it is reached: two ways of reaching one host never share a client.
    struct Key: Hashable, Sendable {
        var host: String
        var insecure: Bool
        var credentials: RegistryCredentials?
    }

    /// Makes the transport of a new client (tests give a scripted one); nil: the real one.
    let makeTransport: (@Sendable (Key) -> any HTTPTransport)?
    private let clients = Mutex<[Key: RegistryClient]>([:])

    init(makeTransport: (@Sendable (Key) -> any HTTPTransport)? = nil) {
        self.makeTransport = makeTransport
    }

    /// The client for `key`, made now if the command has none yet.
    func client(_ key: Key) -> RegistryClient {
        clients.withLock { clients in
            if let client = clients[key] { return client }
            let client = RegistryClient(
                host: key.host, options: RegistryOptions(insecure: key.insecure, credentials: key.credentials),
                transport: makeTransport?(key))
            clients[key] = client
            return client
        }
    }

    /// Closes every client's connections. A client asked for after is a new one.
    func shutdown() {
        let open = clients.withLock { clients in
            defer { clients = [:] }
            return Array(clients.values)
        }
        guard !open.isEmpty else { return }
        try? Blocking.run {
            for client in open { await client.shutdown() }
        }
    }
}
