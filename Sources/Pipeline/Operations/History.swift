import Layers
import OCI

/// `bake history IMAGE`: the image's past builds, newest first, from the build records, so
/// a previous image can be found and exported again (a rollback).
public struct HistoryReport: Sendable, Encodable {
    /// One past build.
    public struct Entry: Sendable, Encodable {
        /// The build number (`IMAGE@N` names it).
        public var build: Int
        /// When the build finished (wall clock; never part of an image).
        public var finishedAt: String
        /// The image's manifest digest.
        public var digest: Digest
        /// True when this is the image the store names IMAGE now.
        public var current: Bool
        /// True when every blob of the image is still in the store (it can be exported).
        public var available: Bool
        /// Steps built, and taken from the cache.
        public var built: Int
        public var cached: Int
        /// The git revision the image was built from.
        public var revision: String?
        /// The image it was built on.
        public var parent: ParentImage?
    }

    public var name: String
    public var builds: [Entry]

    public static func load(_ name: String, workspace: Workspace) throws -> HistoryReport {
        try workspace.requireStore()
        let store = workspace.store
        let lock = try workspace.readLock()
        defer { withExtendedLifetime(lock) {} }
        let records = BuildRecord.all(name, store: store)
        guard !records.isEmpty else {
            let names = (try? FileSystem.directoryEntries(Array((store.root + "/builds").utf8)).map(FileSystem.text)) ?? []
            throw PipelineError.badInput("the store \(store.root) has no builds of '\(name)'\(Suggestions.hint(name, from: names))")
        }
        let current = try store.image(named: name)?.digest
        return HistoryReport(name: name, builds: records.reversed().map { record in
            let blobs = [record.manifest, record.config] + record.layers
            return Entry(
                build: record.sequence, finishedAt: record.finishedAt, digest: record.manifest, current: record.manifest == current,
                available: blobs.allSatisfy(store.hasBlob), built: record.steps.filter { !$0.cached }.count,
                cached: record.steps.filter(\.cached).count, revision: record.metadata?.revision, parent: record.parent)
        })
    }
}

/// An image as commands name it: `NAME` (the image the store names so now), `NAME@N` (its
/// build number N, see `bake history`) or `NAME@sha256:...` (one of its builds by digest).
public struct ImageReference: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var build: Int?
    public var digest: Digest?

    public init(parsing text: String) throws {
        guard let at = text.firstIndex(of: "@") else {
            name = text
            return
        }
        name = String(text[..<at])
        let selector = String(text[text.index(after: at)...])
        if let number = Int(selector), number > 0 {
            build = number
        } else if let digest = try? Digest(parsing: selector) {
            self.digest = digest
        } else {
            throw PipelineError.badInput("'\(text)' names no build: use NAME, NAME@N (a build number from 'bake history \(name)') or NAME@sha256:DIGEST")
        }
    }

    public var description: String {
        if let build { return "\(name)@\(build)" }
        if let digest { return "\(name)@\(digest)" }
        return name
    }

    /// The manifest this reference names in `store` (call under a store lock).
    func resolve(in store: ContentStore) throws -> Descriptor {
        if build == nil && digest == nil {
            guard let descriptor = try store.image(named: name) else {
                let names = try store.readIndex().refNames
                throw PipelineError.badInput("no image named '\(name)' in the store \(store.root)\(Suggestions.hint(name, from: names)); run 'bake build \(name)' first")
            }
            return descriptor
        }
        let records = BuildRecord.all(name, store: store)
        guard let record = records.first(where: { $0.sequence == build || $0.manifest == digest }) else {
            throw PipelineError.badInput("the store has no build \(self); 'bake history \(name)' lists the builds it has")
        }
        guard store.hasBlob(record.manifest) else {
            throw PipelineError.badInput("build \(self) (\(record.manifest)) is no longer in the store (its blobs were removed)")
        }
        return Descriptor(mediaType: .imageManifest, digest: record.manifest, size: try store.blobSize(record.manifest))
    }
}
