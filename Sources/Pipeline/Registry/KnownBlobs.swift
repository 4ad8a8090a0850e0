import Foundation
import Layers
import OCI

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
