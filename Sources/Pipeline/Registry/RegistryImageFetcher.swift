import OCI
import Registry

/// Images of registries for `from: {image: ...}` bases: manifests and blobs through the
/// command's registry clients (one probe, one token, one connection pool per registry),
/// every byte checked against its digest.
struct RegistryImageFetcher: Sendable {
    let access: RegistryAccess
    /// Blobs downloaded at once.
    var jobs = 4

    /// The manifest or index `tagOrDigest` names in `reference`'s repository, checked against
    /// its digest (a digest reference) or the digest the registry reports (a tag).
    func manifest(_ reference: Reference, _ tagOrDigest: String) throws -> FetchedManifest {
        let repository = reference.repository
        return try access.with(host: reference.host) { client in
            try await client.manifest(repository, reference: tagOrDigest)
        }
    }

    /// Downloads `blobs` of `reference`'s repository into `folder`, each as the file named by
    /// its digest's hex, `jobs` at once, each checked against its digest and size as it
    /// arrives. The first failure stops the others; a blob that failed leaves no file.
    func pullBlobs(_ blobs: [Descriptor], of reference: Reference, into folder: String) throws {
        let repository = reference.repository
        let jobs = max(1, jobs)
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
}
