import Provisioners
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
