import Layers
import OCI
import Provisioners
import Registry
import Synchronization

/// Registry bases' way to registries (`ImageFetcher`), over the Registry client: manifests
/// checked against their digests and kept for the rest of the command, blobs streamed to
/// disk while hashed.
final class RegistryImageFetcher: ImageFetcher {
    let access: RegistryAccess
    let store: ContentStore
    /// Manifests fetched in this command, by digest: a tag resolved while pinning is not
    /// fetched again to import it.
    private let fetched = Mutex<[Digest: FetchedImageManifest]>([:])

    init(access: RegistryAccess, store: ContentStore) {
        self.access = access
        self.store = store
    }

    func manifest(_ reference: Reference, named name: String) throws -> FetchedImageManifest {
        if let digest = try? Digest(parsing: name), let known = fetched.withLock({ $0[digest] }) { return known }
        let repository = reference.repository
        let answer = try Blocking.with(access, host: reference.host) { client in
            try await client.manifest(repository, reference: name)
        }
        let manifest = FetchedImageManifest(digest: answer.digest, bytes: answer.bytes)
        fetched.withLock { $0[answer.digest] = manifest }
        return manifest
    }

    func pull(_ blobs: [Descriptor], of reference: Reference, into folder: String) throws {
        let repository = reference.repository
        try Blocking.with(access, host: reference.host) { client in
            for blob in blobs {
                try await client.pullBlob(repository, digest: blob.digest, size: blob.size, to: "\(folder)/\(blob.digest.encoded)")
            }
        }
    }

    func remember(_ digests: [Digest], in reference: Reference) {
        KnownBlobs.record(store, host: reference.host, repository: reference.repository, digests: digests)
    }

    /// Closes what the command opened (connections are per call today).
    func shutdown() {}
}
