import Diagnostics
import Foundation
import Layers
import OCI
import Provisioners
import Registry
import Synchronization

/// `--cache-from`, `--cache-to` and `--cache-required` of a build.
public struct RemoteCacheOptions: Sendable {
    /// Cache repositories (`HOST[:PORT]/REPO`) read, in order.
    public var from: [String]
    /// The cache repository written.
    public var to: String?
    /// Fail (exit 1) when a cache registry cannot be read or written, rather than warn.
    public var required: Bool

    public init(from: [String] = [], to: String? = nil, required: Bool = false) {
        self.from = from
        self.to = to
        self.required = required
    }

    public var isEmpty: Bool { from.isEmpty && to == nil }
}

/// The step cache shared through an OCI registry (DESIGN.md, Remote cache): one manifest per
/// step key, tagged `bake-<key hex>` in the cache repository, artifactType
/// `application/vnd.bake.step.v1+json`, its config the step's record, its one layer the exact
/// blob the image uses. The record is also the manifest's `dev.bake.step` annotation, so a
/// lookup is one GET per step (a miss is a 404).
///
/// A hit is as good as a local hit: the step does not run. Its blob is downloaded in the
/// background (checked against its digest, size and diffID before it enters the store, and
/// then saved as a local cache entry), and waited for only where the bytes are needed: a
/// step that runs on it, and the named image. Writing happens in the background too, each
/// step as soon as it is known. The cache is an optimisation: a registry that cannot be
/// reached is one warning and the build goes on locally, unless `required`.
public final class RemoteCache: Sendable {
    /// A cache repository.
    struct Repository: Sendable, Hashable, CustomStringConvertible {
        var host: String
        var path: String
        var description: String { host + "/" + path }
    }

    /// A step found in a cache repository.
    struct Hit: Sendable {
        var entry: CacheEntry
        var repository: Repository
    }

    /// A download the build waited for failed: the image is walked again without the remote
    /// cache (its layers are then built here).
    struct DownloadFailed: Error, CustomStringConvertible {
        var layer: Digest
        var repository: Repository
        var cause: any Error
        var description: String { "cannot download layer \(layer) from the cache \(repository): \(cause)" }
    }

    static let artifactType: MediaType = "application/vnd.bake.step.v1+json"
    static let recordAnnotation = "dev.bake.step"

    let sources: [Repository]
    let destination: Repository?
    let required: Bool
    let access: RegistryAccess
    let store: ContentStore
    let cache: StepCache
    let warn: @Sendable (String) -> Void

    private struct State {
        /// Lookups made, by key (nil: a miss).
        var lookups: [Digest: Hit?] = [:]
        /// Repositories given up on for the rest of the build.
        var unreadable: Set<Repository> = []
        var readsStopped = false
        var writesStopped = false
        /// Downloads by layer digest, and where from.
        var downloads: [Digest: (task: Task<Void, any Error>, from: Repository)] = [:]
        /// Writes by key.
        var writes: [Digest: Task<Void, any Error>] = [:]
        /// The destination refused artifact manifests: plain image manifests from then on.
        var plainManifests = false
        /// Layers fetched from or written to each repository (for push's mounts).
        var known: [Repository: Set<Digest>] = [:]
        var writeFailure: String?
    }
    private let state = Mutex(State())

    /// Nil when `options` names no cache. A reference that is not `HOST[:PORT]/REPO` is bad input.
    init?(_ options: RemoteCacheOptions, access: RegistryAccess, store: ContentStore, cache: StepCache,
          warn: @escaping @Sendable (String) -> Void) throws {
        guard !options.isEmpty else { return nil }
        sources = try options.from.map { try Self.repository($0, flag: "--cache-from") }
        destination = try options.to.map { try Self.repository($0, flag: "--cache-to") }
        required = options.required
        self.access = access
        self.store = store
        self.cache = cache
        self.warn = warn
    }

    static func repository(_ text: String, flag: String) throws -> Repository {
        let reference = try RegistryAccess.reference(text, what: "\(flag) '\(text)'")
        guard reference.tag == nil, reference.digest == nil else {
            throw PipelineError.badInput("\(flag) '\(text)' has a tag or digest; name a repository, HOST[:PORT]/REPO (bake tags each step itself)")
        }
        return Repository(host: reference.host, path: reference.repository)
    }

    static func tag(_ key: Digest) -> String { "bake-" + key.encoded }

    // MARK: - Reading

    /// The step `key` in the first cache repository that has it, or nil. Each key is asked once.
    func lookup(_ key: Digest) throws -> Hit? {
        let (stopped, known) = state.withLock { ($0.readsStopped, $0.lookups[key]) }
        if stopped { return nil }
        if let known { return known }
        var found: Hit?
        for repository in sources where !state.withLock({ $0.readsStopped || $0.unreadable.contains(repository) }) {
            let fetched: FetchedManifest?
            do {
                let client = try access.client(for: repository.host)
                fetched = try Blocking.run { try await client.manifestIfPresent(repository.path, reference: Self.tag(key)) }
            } catch let error as RegistryError where error.exitStatus != .badInput {
                try unreadable(repository, error)
                continue
            }
            guard let fetched else { continue }
            if let entry = entry(fetched, key: key, repository: repository) {
                found = Hit(entry: entry, repository: repository)
                break
            }
        }
        let hit = found
        state.withLock { $0.lookups[key] = hit }
        return hit
    }

    private func unreadable(_ repository: Repository, _ error: any Error) throws {
        if required {
            throw ErrorWithContext("the cache \(repository) (--cache-from) cannot be read, and --cache-required is set", cause: error)
        }
        let first = state.withLock { $0.unreadable.insert(repository).inserted }
        if first { warn("the cache \(repository) cannot be read (\(error)); building without it") }
    }

    /// The cache entry a manifest describes, if it is one bake wrote for `key`.
    private func entry(_ fetched: FetchedManifest, key: Digest, repository: Repository) -> CacheEntry? {
        guard let manifest = try? CanonicalJSON.decode(Manifest.self, from: fetched.bytes, kind: "cache entry"),
              manifest.layers.count == 1,
              let text = manifest.annotations?[Self.recordAnnotation],
              let record = try? CanonicalJSON.decode(StepRecord.self, from: Array(text.utf8), kind: "step record"),
              record.key == key, record.format == CacheKey.format,
              record.layer.descriptor.digest == manifest.layers[0].digest,
              record.layer.descriptor.size == manifest.layers[0].size,
              record.layer.descriptor.mediaType.layerCompression == .gzip
        else {
            warn("the cache \(repository) has an entry \(Self.tag(key)) that is not a step record of this bake; ignored")
            return nil
        }
        return CacheEntry(key: key, layer: record.layer, history: record.history, packages: record.packages, verified: nil)
    }

    /// Starts downloading a hit's layer (once per layer), unless the store has it.
    func fetch(_ hit: Hit) {
        let layer = hit.entry.layer
        let digest = layer.descriptor.digest
        let (access, store, cache, repository, entry) = (access, store, cache, hit.repository, hit.entry)
        state.withLock { state in
            guard state.downloads[digest] == nil else { return }
            let task = Task {
                if !store.hasBlob(digest) {
                    let client = try access.client(for: repository.host)
                    try store.createTemporaryFolder()
                    let path = store.temporaryPath + "/download-" + digest.encoded
                    do {
                        try await client.pullBlob(repository.path, digest: digest, size: layer.descriptor.size, to: path)
                        try store.adoptLayer(path, as: layer)
                    } catch {
                        unlink(path)
                        throw error
                    }
                }
                try cache.record(key: entry.key, layer: layer, history: entry.history, packages: entry.packages)
            }
            state.downloads[digest] = (task, repository)
            state.known[repository, default: []].insert(digest)
        }
    }

    /// Waits until every one of `layers` being downloaded is in the store. A download that
    /// failed is no matter once the store has the layer (built here after all).
    func materialize(_ layers: [Descriptor]) throws {
        for layer in layers {
            guard let download = state.withLock({ $0.downloads[layer.digest] }) else { continue }
            do {
                try Blocking.run { try await download.task.value }
            } catch {
                if store.hasBlob(layer.digest) { continue }
                throw DownloadFailed(layer: layer.digest, repository: download.from, cause: error)
            }
        }
    }

    /// After a failed download: no more lookups for this build, so the image walked again
    /// builds here what it cannot take from the local cache.
    func stopReading(_ failure: DownloadFailed) throws {
        if required {
            throw ErrorWithContext("the cache \(failure.repository) (--cache-from) failed, and --cache-required is set", cause: failure)
        }
        let downloads = state.withLock { state in
            state.readsStopped = true
            return state.downloads.values.map(\.task)
        }
        // The layers that did arrive are local cache entries before the image is walked again.
        for task in downloads { _ = try? Blocking.run { try await task.value } }
        warn("\(failure); building without the cache")
    }

    // MARK: - Writing

    /// Publishes a step to the destination (once per key), in the background: a step found
    /// there already is left as it is; a step read from another cache repository is written
    /// once its layer is downloaded.
    func publish(_ entry: CacheEntry, from source: Repository? = nil) {
        guard let destination, source != destination else { return }
        let download = state.withLock { $0.downloads[entry.layer.descriptor.digest]?.task }
        state.withLock { state in
            guard !state.writesStopped, state.writes[entry.key] == nil else { return }
            state.writes[entry.key] = Task { [self] in
                if let download { try await download.value }
                try await write(entry, to: destination)
            }
        }
    }

    private func write(_ entry: CacheEntry, to destination: Repository) async throws {
        let client = try access.client(for: destination.host)
        let tag = Self.tag(entry.key)
        if try await client.hasManifest(destination.path, reference: tag) {
            state.withLock { _ = $0.known[destination, default: []].insert(entry.layer.descriptor.digest) }
            return
        }
        let layer = entry.layer.descriptor
        let store = store
        let known = KnownBlobs.load(store)
        _ = try await client.pushBlob(
            destination.path, digest: layer.digest, size: layer.size, file: store.blobPath(layer.digest),
            mountFrom: known.repositories(host: destination.host, digest: layer.digest).reversed(),
            beforeUpload: { try store.verifyBlob(layer.digest, what: "layer") })
        let record = StepRecord(entry)
        let recordBytes = try CanonicalJSON.encode(record)
        let plain = state.withLock { $0.plainManifests }
        if !plain {
            do {
                try await put(entry, record: recordBytes, as: Self.artifactType, to: destination, client: client)
                return
            } catch let error as RegistryError where Self.refusesArtifacts(error) {
                state.withLock { $0.plainManifests = true }
            }
        }
        // A registry that refuses artifact types gets an image manifest: an image config
        // naming the layer's diffID (the record stays in the annotation).
        let config = ImageConfig(
            created: nil, architecture: HostPlatform.current.architecture, os: "linux", config: nil,
            rootfs: RootFS(diffIDs: [entry.layer.diffID]), history: [History(created: nil, createdBy: "bake: " + entry.history)])
        try await put(entry, record: recordBytes, config: try CanonicalJSON.encode(config), as: .imageConfig, to: destination, client: client)
    }

    /// Puts the config blob and the tagged manifest.
    private func put(
        _ entry: CacheEntry, record: [UInt8], config: [UInt8]? = nil, as configType: MediaType, to destination: Repository,
        client: RegistryClient
    ) async throws {
        let configBytes = config ?? record
        let configDigest = Digest.sha256(configBytes)
        try store.createTemporaryFolder()
        let file = try FileSystem.makeTemporaryFile(in: store.temporaryPath, prefix: "upload")
        let path = file.path
        defer { unlink(path) }
        try configBytes.withUnsafeBytes { try file.writeAll($0) }
        try file.close()
        _ = try await client.pushBlob(destination.path, digest: configDigest, size: Int64(configBytes.count), file: path)
        var manifest = Manifest(
            config: Descriptor(mediaType: configType, digest: configDigest, size: Int64(configBytes.count)),
            layers: [entry.layer.descriptor],
            annotations: [Self.recordAnnotation: String(decoding: record, as: UTF8.self)])
        if configType == Self.artifactType { manifest.artifactType = Self.artifactType }
        try await client.putManifest(destination.path, reference: Self.tag(entry.key), bytes: try CanonicalJSON.encode(manifest),
                                     mediaType: .imageManifest)
        state.withLock { _ = $0.known[destination, default: []].insert(entry.layer.descriptor.digest) }
    }

    /// A registry's answer to a manifest it will not store because of its type.
    static func refusesArtifacts(_ error: RegistryError) -> Bool {
        if case .unexpectedStatus(_, _, let status, _) = error { return status == 400 || status == 415 }
        return false
    }

    // MARK: - The end of a build

    /// Waits for every write; a write that failed is one warning (or, with `required`, the
    /// error). Records which repositories hold which layers, so a push mounts them.
    func finish() throws {
        let writes = state.withLock { $0.writes }
        var failure: (any Error)?
        for task in writes.values {
            do {
                try Blocking.run { try await task.value }
            } catch {
                failure = failure ?? error
            }
        }
        recordKnownBlobs()
        if let failure, let destination {
            if required {
                throw ErrorWithContext("cannot write the cache \(destination) (--cache-to), and --cache-required is set", cause: failure)
            }
            warn("cannot write the cache \(destination) (\(failure)); this build's steps are not in it")
        }
    }

    /// Waits for whatever is still running, after a failed build (nothing may touch the
    /// store once the build lets go of its lock).
    func settle() {
        let tasks = state.withLock { state in
            state.writesStopped = true
            return state.downloads.values.map(\.task) + Array(state.writes.values)
        }
        for task in tasks { _ = try? Blocking.run { try await task.value } }
        recordKnownBlobs()
    }

    private func recordKnownBlobs() {
        let known = state.withLock { state in
            defer { state.known = [:] }
            return state.known
        }
        for (repository, digests) in known where !digests.isEmpty {
            KnownBlobs.record(store, host: repository.host, repository: repository.path, digests: digests.sorted { $0.description < $1.description })
        }
    }
}

/// What a remote cache entry records of its step (its config blob, and its manifest's
/// `dev.bake.step` annotation).
struct StepRecord: Sendable, Hashable, Codable {
    /// The step's cache key.
    var key: Digest
    /// The layer (digest, size, media type) and its diffID.
    var layer: LayerBlob
    /// The image history text of the step.
    var history: String
    /// For an apt step: the packages installed, as name=version.
    var packages: [String]?
    /// The layer format (`CacheKey.format`) and the bake that wrote the entry.
    var format: String
    var writer: String

    init(_ entry: CacheEntry) {
        key = entry.key
        layer = entry.layer
        history = entry.history
        packages = entry.packages
        format = CacheKey.format
        writer = "bake " + BakeVersion.current
    }
}
