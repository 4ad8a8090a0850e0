import Glibc
import Layers
import OCI

/// `from: {image: "host/repo@sha256:..."}` (or `host/repo:tag`): an image pulled from a
/// registry. A tag is resolved to a digest once and pinned in bake.lock; later builds use
/// the pin (`bake update` moves it). Every blob is verified against its digest as it
/// arrives, then imported like an OCI layout base: every layer checked for entries that
/// would write outside the root, nothing entering the store before all checks pass. Once
/// pulled, the base comes from the store: a rebuild needs no network.
public struct RegistryImageBase: BaseSource, Hashable {
    public static let kind = "image"

    /// The reference as the stage file gives it.
    public var reference: String

    public init(reference: String) {
        self.reference = reference
    }

    public var description: String { reference }

    /// bake.lock keys of a registry base.
    public static let referenceKey = "image.reference"
    public static let digestKey = "image.digest"

    /// A tag's upstream; a digest reference pins itself.
    public var upstream: String? { (try? Reference(parsing: reference))?.digest == nil ? reference : nil }

    /// bake.lock's digest for this tag reference.
    public func pinned(_ pins: [String: String]?) -> BasePin? {
        guard (try? Reference(parsing: reference))?.digest == nil, pins?[Self.referenceKey] == reference,
              let pinned = pins?[Self.digestKey], (try? Digest(parsing: pinned)) != nil else { return nil }
        return BasePin([Self.referenceKey: reference, Self.digestKey: pinned])
    }

    /// The reference's own digest, or what the tag names now (asked only when building or
    /// checking upstream: a plan stays off the network and says the base comes first).
    public func current(_ context: BaseContext) throws -> BasePin {
        let parsed = try parse()
        var digest = parsed.digest
        if digest == nil, context.build {
            // (The import asks for it again by digest; fetchers keep what they fetched.)
            digest = try context.fetcher.manifest(parsed, named: parsed.manifestReference).digest
        }
        guard let digest else { return BasePin([Self.referenceKey: reference]) }
        return BasePin([Self.referenceKey: reference, Self.digestKey: digest.description])
    }

    public func importImage(_ pin: BasePin, _ context: BaseContext) throws -> BaseImport {
        let parsed = try parse()
        guard let top = pin.values[Self.digestKey].flatMap({ try? Digest(parsing: $0) }) else { return .notYet }
        let store = context.store
        let layout = try context.workFolder("pull-")
        defer { try? FileSystem.removeTree(layout) }
        let blobs = layout + "/blobs/sha256"
        try FileSystem.createDirectory(blobs)
        // Blobs the store has are linked into the layout; the rest are downloaded (when
        // building) or the base is not importable yet (a plan).
        func link(_ blob: Digest) -> Bool {
            guard store.hasBlob(blob) else { return false }
            return Glibc.link(store.blobPath(blob), "\(blobs)/\(blob.encoded)") == 0
        }
        func fetchManifest(_ digest: Digest) throws -> Bool {
            if link(digest) { return true }
            guard context.build else { return false }
            // A manifest is fetched from the manifests endpoint (registries keep it there,
            // not among blobs), checked against its digest by the fetcher.
            let fetched = try context.fetcher.manifest(parsed, named: digest.description)
            try store.writeAtomically("\(blobs)/\(fetched.digest.encoded)", fetched.bytes)
            return true
        }
        guard try fetchManifest(top) else { return .notYet }
        let topBytes = try FileSystem.readFile("\(blobs)/\(top.encoded)")
        let topType = try Self.mediaType(topBytes, what: reference)
        var manifestDigest = top
        if topType == .imageIndex || topType == .dockerManifestList {
            let index = try CanonicalJSON.decode(Index.self, from: topBytes, kind: "image index \(top)")
            let host = HostPlatform.current
            guard let match = index.manifests.first(where: { $0.platform?.architecture == host.architecture && $0.platform?.os == host.os }) else {
                throw InputError("\(reference) has no image for \(host.os)/\(host.architecture)")
            }
            manifestDigest = match.digest
            guard try fetchManifest(match.digest) else { return .notYet }
        }
        let manifestBytes = try FileSystem.readFile("\(blobs)/\(manifestDigest.encoded)")
        let manifest = try CanonicalJSON.decode(Manifest.self, from: manifestBytes, kind: "manifest \(manifestDigest) of \(reference)")
        let missing = ([manifest.config] + manifest.layers).filter { !link($0.digest) }
        if !missing.isEmpty {
            guard context.build else { return .notYet }
            try context.fetcher.pull(missing, of: parsed, into: blobs)
        }
        let index = Index(manifests: [Descriptor(
            mediaType: topType, digest: top, size: Int64(topBytes.count), annotations: [AnnotationKey.refName: "base"])])
        try store.writeAtomically(layout + "/index.json", CanonicalJSON.encode(index))
        try store.writeAtomically(layout + "/oci-layout", CanonicalJSON.encode(ImageLayoutFile()))
        guard case .image(var base) = try OCILayoutBase(path: layout, ref: "base")
            .importImage(layout: layout, shownAs: layout, context: context, parentName: reference) else { return .notYet }
        if context.build {
            // Kept so later builds resolve the base from the store, without the network.
            for blob in Set([top, manifestDigest]) {
                _ = try store.ensure(try FileSystem.readFile("\(blobs)/\(blob.encoded)"))
            }
            context.fetcher.remember([manifest.config.digest] + manifest.layers.map(\.digest), in: parsed)
        }
        base.parent = ParentImage(name: parsed.repositoryName + (parsed.tag.map { ":" + $0 } ?? ""), digest: top)
        return .image(base)
    }

    private func parse() throws -> Reference {
        do {
            return try Reference(parsing: reference)
        } catch {
            throw InputError("\(error)")
        }
    }

    /// The media type a manifest or index declares.
    static func mediaType(_ bytes: [UInt8], what: String) throws -> MediaType {
        struct Typed: Decodable { var mediaType: MediaType?; var manifests: [Descriptor]? }
        let typed = try CanonicalJSON.decode(Typed.self, from: bytes, kind: "manifest of \(what)")
        return typed.mediaType ?? (typed.manifests != nil ? .imageIndex : .imageManifest)
    }
}
