import Dispatch
import Foundation
import Layers
import OCI
import Registry

/// How bake reaches registries: which hosts may be plain HTTP or self-signed, and the
/// credentials given on the command line. Credentials not given here come from
/// `BAKE_REGISTRY_USER`/`BAKE_REGISTRY_PASSWORD` or the docker config, per host.
public struct RegistryAccess: Sendable {
    /// Hosts (`host[:port]`) that may answer over plain HTTP or with an unverified certificate.
    public var insecureHosts: Set<String>
    /// `USER:PASS` from `--creds`, for every host.
    public var credentials: String?
    /// The environment credentials and the docker config are read from.
    public var environment: [String: String]

    public init(insecureHosts: Set<String> = [], credentials: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.insecureHosts = insecureHosts
        self.credentials = credentials
        self.environment = environment
    }

    /// A client for `host`. Bad credentials are bad input (exit 2).
    func client(for host: String) throws -> RegistryClient {
        do {
            let explicit = try credentials.map(RegistryCredentials.init(parsing:))
            let resolved = try RegistryCredentials.resolve(host: host, explicit: explicit, environment: environment)
            return RegistryClient(host: host, options: RegistryOptions(insecure: insecureHosts.contains(host), credentials: resolved))
        } catch let error as RegistryError {
            throw PipelineError.badInput("\(error)")
        }
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

/// Runs async registry work from bake's synchronous pipeline: the calling thread waits while
/// the work runs on the concurrency pool. Errors are passed on as they are.
enum Blocking {
    private final class Box<T>: @unchecked Sendable {
        var result: Result<T, Error>?
    }

    /// Must be called from a thread of bake's own (the main thread, a build thread), never
    /// from the concurrency pool, which it would block.
    static func run<T>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let box = Box<T>()
        let done = DispatchSemaphore(value: 0)
        Task {
            do {
                box.result = .success(try await body())
            } catch {
                box.result = .failure(error)
            }
            done.signal()
        }
        done.wait()
        // Registry errors know their exit status (a failure, or bad credentials); they are
        // passed on as they are, cause and all.
        return try box.result!.get()
    }

    /// Runs `body` with a client of `host`, shutting the client down after.
    static func with<T>(_ access: RegistryAccess, host: String, _ body: @escaping @Sendable (RegistryClient) async throws -> T) throws -> T {
        let client = try access.client(for: host)
        return try run {
            do {
                let result = try await body(client)
                await client.shutdown()
                return result
            } catch {
                await client.shutdown()
                throw error
            }
        }
    }
}

/// Which repositories of which registries are known to hold which blobs, learnt from pushes
/// and pulls, so a push can mount a blob from a sibling repository instead of sending it.
/// A hint only: a wrong entry costs one refused mount.
struct KnownBlobs: Codable {
    /// host -> digest -> repositories.
    var hosts: [String: [String: [String]]] = [:]

    static func path(_ store: ContentStore) -> String { store.root + "/registry/known-blobs.json" }

    static func load(_ store: ContentStore) -> KnownBlobs {
        guard let bytes = try? FileSystem.readFile(path(store)),
              let known = try? JSONDecoder().decode(KnownBlobs.self, from: Data(bytes))
        else { return KnownBlobs() }
        return known
    }

    func repositories(host: String, digest: Digest) -> [String] {
        hosts[host]?[digest.description] ?? []
    }

    mutating func record(host: String, repository: String, digests: [Digest]) {
        for digest in digests {
            var repositories = hosts[host, default: [:]][digest.description, default: []]
            if !repositories.contains(repository) {
                repositories.append(repository)
                // Keep the list short: the newest few are the likeliest to still hold it.
                hosts[host, default: [:]][digest.description] = Array(repositories.suffix(8))
            }
        }
    }

    /// Merges into what is on disk now (another push may have written meanwhile) and writes.
    static func record(_ store: ContentStore, host: String, repository: String, digests: [Digest]) {
        var known = load(store)
        known.record(host: host, repository: repository, digests: digests)
        guard let bytes = try? CanonicalJSON.encode(known) else { return }
        try? FileSystem.createDirectory(store.root + "/registry")
        try? store.writeAtomically(path(store), bytes)
    }
}
