import Glibc
import Layers
import OCI
import Registry

/// `from: {image: "host/repo@sha256:..."}` (or `host/repo:tag`): an image pulled from a
/// registry. A tag is resolved to a digest once and pinned in bake.lock; later builds use
/// the pin (`bake update` moves it). Every blob is verified against its digest as it
/// arrives, then imported like an OCI layout base: every layer checked for entries that
/// would write outside the root, nothing entering the store before all checks pass.
struct RegistryBaseImporter {
    let store: ContentStore
    let access: RegistryAccess
    /// Manifests and blobs, through the command's registry clients.
    var fetcher: RegistryImageFetcher { RegistryImageFetcher(access: access) }

    /// bake.lock keys of a registry base.
    static let referenceKey = "image.reference"
    static let digestKey = "image.digest"

    func resolve(
        _ text: String, stage: Stage, sourceDateEpoch: Int64?, build: Bool, pins: [String: String]?
    ) throws -> (ImageBase, BaseLayer?, [String: String])? {
        let location = stage.baseLocation
        let reference: Reference
        do {
            reference = try Reference(parsing: text)
        } catch {
            throw PipelineError.badInput("\(location): \(error)")
        }
        // The digest to build on: the reference's own, else the pin, else what the tag names now.
        var digest = reference.digest
        if digest == nil, pins?[Self.referenceKey] == text, let pinned = pins?[Self.digestKey] {
            digest = try? Digest(parsing: pinned)
        }
        let repository = reference.repository
        let layout = try ExternalBases.workFolder(store, "pull-")
        defer { try? FileSystem.removeTree(layout) }
        try FileSystem.createDirectory(layout + "/blobs/sha256")
        // Blobs the store has are linked into the layout; the rest are downloaded (when
        // building) or the base is not resolvable yet (a plan).
        var missing: [Descriptor] = []
        func link(_ blob: Digest) -> Bool {
            guard store.hasBlob(blob) else { return false }
            return Glibc.link(store.blobPath(blob), "\(layout)/blobs/sha256/\(blob.encoded)") == 0
        }
        let fetched: FetchedManifest?
        if let digest, link(digest) {
            fetched = nil
        } else {
            guard build else { return nil }
            let wanted = digest?.description ?? reference.manifestReference
            fetched = try fetcher.manifest(reference, wanted)
        }
        let top = try fetched.map { fetched -> Digest in
            try store.writeAtomically(layout + "/blobs/sha256/\(fetched.digest.encoded)", fetched.bytes)
            return fetched.digest
        } ?? digest!
        let topBytes = try FileSystem.readFile(layout + "/blobs/sha256/\(top.encoded)")
        let topType = try Self.mediaType(topBytes, what: "\(text)")
        var manifestDigest = top
        var manifestBytes = topBytes
        if topType == .imageIndex || topType == .dockerManifestList {
            let index = try CanonicalJSON.decode(Index.self, from: topBytes, kind: "image index \(top)")
            let host = HostPlatform.current
            guard let match = index.manifests.first(where: { $0.platform?.architecture == host.architecture && $0.platform?.os == host.os }) else {
                throw PipelineError.badInput("\(location): \(text) has no image for \(host.os)/\(host.architecture)")
            }
            manifestDigest = match.digest
            if !link(match.digest) {
                guard build else { return nil }
                // A manifest is fetched from the manifests endpoint (registries keep it there,
                // not among blobs), checked against its digest by the client.
                let child = try fetcher.manifest(reference, match.digest.description)
                try store.writeAtomically(layout + "/blobs/sha256/\(child.digest.encoded)", child.bytes)
            }
            manifestBytes = try FileSystem.readFile(layout + "/blobs/sha256/\(manifestDigest.encoded)")
        }
        let manifest = try CanonicalJSON.decode(Manifest.self, from: manifestBytes, kind: "manifest \(manifestDigest) of \(text)")
        for blob in [manifest.config] + manifest.layers where !link(blob.digest) {
            missing.append(blob)
        }
        if !missing.isEmpty {
            guard build else { return nil }
            try fetcher.pullBlobs(missing, of: reference, into: layout + "/blobs/sha256")
        }
        let index = Index(manifests: [Descriptor(
            mediaType: topType, digest: top, size: Int64(topBytes.count), annotations: [AnnotationKey.refName: "base"])])
        try store.writeAtomically(layout + "/index.json", CanonicalJSON.encode(index))
        try store.writeAtomically(layout + "/oci-layout", CanonicalJSON.encode(ImageLayoutFile()))
        guard let (imported, _, _) = try OCILayoutImporter(store: store).resolve(
            path: layout, ref: "base", stage: stage, sourceDateEpoch: sourceDateEpoch, importBlobs: build)
        else { return nil }
        if build {
            // Kept so later builds resolve the base from the store, without the network.
            for blob in Set([top, manifestDigest]) {
                _ = try store.ensure(try FileSystem.readFile(layout + "/blobs/sha256/\(blob.encoded)"))
            }
            KnownBlobs.record(store, host: reference.host, repository: repository,
                              digests: [manifest.config.digest] + manifest.layers.map(\.digest))
        }
        var base = imported
        base.parent = ParentImage(name: reference.repositoryName + (reference.tag.map { ":" + $0 } ?? ""), digest: top)
        return (base, nil, [Self.referenceKey: text, Self.digestKey: top.description])
    }

    /// The media type a manifest or index declares.
    static func mediaType(_ bytes: [UInt8], what: String) throws -> MediaType {
        struct Typed: Decodable { var mediaType: MediaType?; var manifests: [Descriptor]? }
        let typed = try CanonicalJSON.decode(Typed.self, from: bytes, kind: "manifest of \(what)")
        return typed.mediaType ?? (typed.manifests != nil ? .imageIndex : .imageManifest)
    }
}
