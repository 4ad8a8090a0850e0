import OCI

/// For builds that must not reach a registry (tests, plans): every request fails.
public struct NoImageFetcher: ImageFetcher {
    public init() {}

    public func manifest(_ reference: Reference, named name: String) throws -> FetchedImageManifest {
        throw ProvisionersError.baseFailed("bake does not reach registries here, so \(reference) cannot be pulled")
    }

    public func pull(_ blobs: [Descriptor], of reference: Reference, into folder: String) throws {
        throw ProvisionersError.baseFailed("bake does not reach registries here, so \(reference) cannot be pulled")
    }

    public func remember(_ digests: [Digest], in reference: Reference) {}
}
