import Layers
import OCI
import Provisioners
import Registry
import Synchronization

/// Registry bases' way to registries (`ImageFetcher`), over the Registry client: manifests
/// checked against their digests and kept for the rest of the command, blobs streamed to
/// disk while hashed, several at once. Every request goes through the command's registry
/// clients (`RegistryAccess`): one connection pool, one probe and one token per registry.
final class RegistryImageFetcher: ImageFetcher {
    let access: RegistryAccess
    let store: ContentStore
    /// Blobs downloaded at once.
    let jobs: Int
    /// Manifests fetched in this command, by digest: a tag resolved while pinning is not
    /// fetched again to import it.
    private let fetched = Mutex<[Digest: FetchedImageManifest]>([:])

    init(access: RegistryAccess, store: ContentStore, jobs: Int = 4) {
        self.access = access
        self.store = store
        self.jobs = max(1, jobs)
    }

    func manifest(_ reference: Reference, named name: String) throws -> FetchedImageManifest {
        if let digest = try? Digest(parsing: name), let known = fetched.withLock({ $0[digest] }) { return known }
        let repository = reference.repository
        let answer = try access.with(host: reference.host) { client in
            try await client.manifest(repository, reference: name)
        }
        let manifest = FetchedImageManifest(digest: answer.digest, bytes: answer.bytes)
        fetched.withLock { $0[answer.digest] = manifest }
        return manifest
    }

    /// Downloads `blobs` into `folder/<hex>`, `jobs` at once, each checked against its digest
    /// and size as it arrives. The first failure stops the others; a blob that failed leaves
    /// no file.
    func pull(_ blobs: [Descriptor], of reference: Reference, into folder: String) throws {
        let repository = reference.repository
        let jobs = jobs
        try access.with(host: reference.host) { client in
            try await withThrowingTaskGroup(of: Void.self) { group in
                var pending = blobs[...]
                func startNext() {
                    guard let blob = pending.popFirst() else { return }
                    group.addTask {
                        try await client.pullBlob(repository, digest: blob.digest, size: blob.size, to: "\(folder)/\(blob.digest.encoded)")
                    }
                }
                for _ in 0..<jobs { startNext() }
                while try await group.next() != nil { startNext() }
            }
        }
    }

    func remember(_ digests: [Digest], in reference: Reference) {
        KnownBlobs.record(store, host: reference.host, repository: reference.repository, digests: digests)
    }

    /// Closes the command's registry clients: the build (or the check of upstreams) is done.
    func shutdown() {
        access.shutdown()
    }
}
