import OCI

/// How registry bases reach registries: Pipeline implements it over the Registry module
/// (one session per registry and command), so Provisioners knows nothing of HTTP.
public protocol ImageFetcher: Sendable {
    /// The manifest or index `name` (a tag or a digest) names in `reference`'s repository,
    /// checked against its digest. A manifest fetched once in a command is not fetched again.
    func manifest(_ reference: Reference, named name: String) throws -> FetchedImageManifest

    /// Downloads blobs of `reference`'s repository into `folder/<hex>`, each verified
    /// against its digest and size.
    func pull(_ blobs: [Descriptor], of reference: Reference, into folder: String) throws

    /// Notes that `reference`'s repository holds `digests` (a hint for later pushes).
    func remember(_ digests: [Digest], in reference: Reference)
}
