import Diagnostics
import Foundation
import Layers
import OCI
import Registry

/// What `bake push` was asked to do.
public struct PushOptions: Sendable {
    /// The image: NAME, NAME@N or NAME@sha256:DIGEST.
    public var image: String
    /// `host[:port]/path`, optionally with a `:tag` (pushed as one more tag).
    public var repository: String
    /// Tags or tag templates: `latest`, `{git.sha}`, `{git.short}`, `{seq}`, `build-{seq}`.
    public var tags: [String]
    /// Blobs uploaded at once.
    public var jobs: Int
    public var access: RegistryAccess

    public init(image: String, repository: String, tags: [String], jobs: Int = 4, access: RegistryAccess) {
        self.image = image
        self.repository = repository
        self.tags = tags
        self.jobs = jobs
        self.access = access
    }
}

/// What a push did: the manifest digest, every `REPOSITORY:TAG` set, and each blob's fate.
public struct PushReport: Sendable, Codable {
    public struct Blob: Sendable, Codable {
        public var digest: Digest
        public var size: Int64
        public var result: BlobPush
    }
    public var image: String
    public var repository: String
    public var digest: Digest
    /// `host/path@sha256:...`: the image by digest, as deploys should pin it.
    public var reference: String
    /// `host/path:TAG` for each tag set.
    public var tags: [String]
    public var blobs: [Blob]
}

/// `bake push`: the image's blobs (in parallel, skipping and mounting what the registry
/// has), then its manifest by digest, then every tag pointing at that digest.
public enum Pusher {
    public static func push(_ options: PushOptions, workspace: Workspace) throws -> PushReport {
        var target = try RegistryAccess.reference(options.repository, what: "the repository to push to")
        guard target.digest == nil else {
            throw PipelineError.badInput("the repository to push to, '\(options.repository)', has a digest; name a repository (HOST/PATH) and give tags with --tag")
        }
        var templates = options.tags
        if let tag = target.tag { templates.insert(tag, at: 0); target.tag = nil }
        for template in templates { try TagTemplate.validate(template) }
        let tagTemplates = templates

        let store = workspace.store
        let lock = try workspace.readLock()
        defer { withExtendedLifetime(lock) {} }
        let descriptor = try ImageReference(parsing: options.image).resolve(in: store)
        let manifestBytes = try store.readBlob(descriptor.digest, what: "manifest")
        let manifest = try CanonicalJSON.decode(Manifest.self, from: manifestBytes, kind: "manifest \(descriptor.digest)")
        let config = try store.readConfig(manifest.config.digest)
        let revision = config.config?.labels?[AnnotationKey.revision]
        // Each blob once: two steps can make the same layer.
        var seen = Set<Digest>()
        let blobs = ([manifest.config] + manifest.layers).filter { seen.insert($0.digest).inserted }
        let imageName = options.image
        // A blob is checked against its digest before its bytes are sent (a damaged store must
        // not reach a registry); one the registry has already is not read at all.
        let check: @Sendable (Descriptor) -> (@Sendable () throws -> Void) = { blob in
            {
                do {
                    try store.verifyBlob(blob.digest, what: blob.digest == manifest.config.digest ? "config" : "layer")
                } catch {
                    throw ErrorWithContext("cannot push \(imageName) (run 'bake fsck')", cause: error)
                }
            }
        }
        // Git templates are filled in now, so a missing revision fails before any request.
        let partial = try tagTemplates.map { try TagTemplate.expand($0, revision: revision, sequence: nil, image: imageName) }
        let known = KnownBlobs.load(store)
        let host = target.host
        let repository = target.repository
        let jobs = max(1, options.jobs)
        let work: @Sendable (RegistryClient) async throws -> ([PushReport.Blob], [String]) = { client in
            // {seq} reads the tags first, so the number is one more than any tag already there.
            var existing: [String] = []
            if partial.contains(where: { $0.contains("{seq}") }) {
                do {
                    existing = try await client.tags(repository, actions: "pull,push")
                } catch RegistryError.unknownRepository {
                    existing = []
                }
            }
            // Each template counts on from its own tags: build-{seq} after build-41 is build-42.
            let tags = try partial.map {
                try TagTemplate.expand($0, revision: nil, sequence: TagTemplate.nextSequence(existing, template: $0), image: imageName)
            }
            // The config first, alone: its requests settle auth (a token, or basic) before
            // the layers go up in parallel.
            let config = blobs[0]
            var results = [PushReport.Blob(
                digest: config.digest, size: config.size,
                result: try await client.pushBlob(
                    repository, digest: config.digest, size: config.size, file: store.blobPath(config.digest),
                    mountFrom: known.repositories(host: host, digest: config.digest).reversed(), beforeUpload: check(config)))]
            try await withThrowingTaskGroup(of: PushReport.Blob.self) { group in
                var pending = blobs.dropFirst()
                func startNext() {
                    guard let blob = pending.popFirst() else { return }
                    // Newest first: the repository pushed to last is the likeliest to still have it.
                    let mountFrom = Array(known.repositories(host: host, digest: blob.digest).reversed())
                    group.addTask {
                        let result = try await client.pushBlob(
                            repository, digest: blob.digest, size: blob.size, file: store.blobPath(blob.digest), mountFrom: mountFrom,
                            beforeUpload: check(blob))
                        return PushReport.Blob(digest: blob.digest, size: blob.size, result: result)
                    }
                }
                for _ in 0..<jobs { startNext() }
                while let done = try await group.next() {
                    results.append(done)
                    startNext()
                }
            }
            // By digest first: the digest the registry reports for it is checked before any tag
            // names it, and the image exists whole before a tag does.
            try await client.putManifest(repository, reference: descriptor.digest.description, bytes: manifestBytes, mediaType: .imageManifest)
            for tag in tags {
                try await client.putManifest(repository, reference: tag, bytes: manifestBytes, mediaType: .imageManifest)
            }
            return (results, tags)
        }
        let (results, tags) = try Blocking.with(options.access, host: host, work)
        KnownBlobs.record(store, host: host, repository: repository, digests: blobs.map(\.digest))
        let order = Dictionary(uniqueKeysWithValues: blobs.enumerated().map { ($1.digest, $0) })
        return PushReport(
            image: options.image, repository: target.repositoryName, digest: descriptor.digest,
            reference: target.with(digest: descriptor.digest).description,
            tags: tags.map { target.with(tag: $0).description },
            blobs: results.sorted { order[$0.digest, default: 0] < order[$1.digest, default: 0] })
    }
}

/// Tag templates of `bake push --tag`.
enum TagTemplate {
    static let placeholders = ["{git.sha}", "{git.short}", "{seq}"]

    /// Rejects unknown `{...}` placeholders before anything is pushed.
    static func validate(_ template: String) throws {
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{") {
            guard let close = rest[open...].firstIndex(of: "}") else {
                throw PipelineError.badInput("--tag '\(template)' has a '{' without '}'; templates are \(placeholders.joined(separator: ", "))")
            }
            let placeholder = String(rest[open...close])
            guard placeholders.contains(placeholder) else {
                throw PipelineError.badInput("--tag '\(template)' uses \(placeholder), which is not a tag template; use \(placeholders.joined(separator: ", ")) or a plain tag")
            }
            rest = rest[rest.index(after: close)...]
        }
        let sample = template.replacingOccurrences(of: "{git.sha}", with: "a").replacingOccurrences(of: "{git.short}", with: "a")
            .replacingOccurrences(of: "{seq}", with: "1")
        guard Reference.isValidTag(sample) else {
            throw PipelineError.badInput("--tag '\(template)' is not a valid tag (letters, digits, '_', '.', '-', at most 128, not starting with '.' or '-')")
        }
    }

    /// For a template with `{seq}` (its git placeholders already filled in): one more than
    /// the highest number among the tags of that shape (`{seq}`: all-digit tags; `build-{seq}`:
    /// `build-1`, `build-2`...), or 1. Nil for a template without `{seq}`.
    static func nextSequence(_ tags: [String], template: String) -> Int? {
        guard let range = template.range(of: "{seq}") else { return nil }
        let prefix = template[..<range.lowerBound], suffix = template[range.upperBound...]
        let numbers = tags.compactMap { tag -> Int? in
            guard tag.hasPrefix(prefix), tag.hasSuffix(suffix), tag.count > prefix.count + suffix.count else { return nil }
            let digits = tag.dropFirst(prefix.count).dropLast(suffix.count)
            guard digits.utf8.count <= 18, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            return Int(digits)
        }
        return (numbers.max() ?? 0) + 1
    }

    static func expand(_ template: String, revision: String?, sequence: Int?, image: String) throws -> String {
        var tag = template
        if tag.contains("{git.sha}") || tag.contains("{git.short}") {
            guard let revision, !revision.isEmpty else {
                throw PipelineError.badInput(
                    "--tag '\(template)' needs the git revision \(image) was built from, but it has no \(AnnotationKey.revision) label; build it in a clean git checkout or set BAKE_REVISION")
            }
            tag = tag.replacingOccurrences(of: "{git.sha}", with: revision)
            // Seven characters, as git and most CI systems show a short commit.
            tag = tag.replacingOccurrences(of: "{git.short}", with: String(revision.prefix(7)))
        }
        if tag.contains("{seq}") {
            // Filled in later, from the repository's tags.
            guard let sequence else { return tag }
            tag = tag.replacingOccurrences(of: "{seq}", with: String(sequence))
        }
        guard Reference.isValidTag(tag) else {
            throw PipelineError.badInput("--tag '\(template)' gives '\(tag)', which is not a valid tag")
        }
        return tag
    }
}

/// `bake retag REPOSITORY:FROM TO...`: points more tags at the manifest a tag (or digest)
/// names, without moving any blob.
public enum Retagger {
    public struct Report: Sendable, Codable {
        public var digest: Digest
        public var tags: [String]
    }

    public static func retag(_ source: String, to targets: [String], access: RegistryAccess) throws -> Report {
        let reference = try RegistryAccess.reference(source, what: "the image to retag")
        guard reference.tag != nil || reference.digest != nil else {
            throw PipelineError.badInput("'\(source)' names no tag or digest to retag from; write REPOSITORY:TAG or REPOSITORY@sha256:DIGEST")
        }
        guard !targets.isEmpty else { throw PipelineError.badInput("name at least one tag to point at \(source)") }
        for target in targets where !Reference.isValidTag(target) {
            throw PipelineError.badInput("'\(target)' is not a valid tag (letters, digits, '_', '.', '-', at most 128, not starting with '.' or '-')")
        }
        let repository = reference.repository
        let digest = try Blocking.with(access, host: reference.host) { client in
            let fetched = try await client.manifest(repository, reference: reference.manifestReference)
            for target in targets {
                try await client.putManifest(repository, reference: target, bytes: fetched.bytes, mediaType: fetched.mediaType)
            }
            return fetched.digest
        }
        return Report(digest: digest, tags: targets.map { reference.with(tag: $0).description })
    }
}
