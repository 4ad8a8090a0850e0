import Layers
import OCI
import Provisioners

extension Verifier {
    /// What an image is expected to be.
    struct Expected {
        var name: String
        var reference: String
        var manifest: Digest
        /// The manifest, config and layer blobs, when the store has them.
        var manifestBytes: [UInt8]?
        var configBytes: [UInt8]?
        var layers: [LockFile.Layer]
        var record: BuildRecord?
        var sourceDateEpoch: Int64?
        var metadata: SourceMetadata
        var upstream: [String: String]?
    }

    /// What each image of `order` is expected to be: the image the store names (its last
    /// build), or else its result in bake.lock.
    func expectations(_ order: [String]) throws -> [Expected] {
        let store = workspace.store
        let lockFile = try LockFile.load(directory: project.directory)
        let storeLock = store.exists ? try workspace.readLock() : nil
        defer { withExtendedLifetime(storeLock) {} }
        var result: [Expected] = []
        for name in order {
            if store.exists, let named = try store.image(named: name) {
                let manifestBytes = try store.readBlob(named.digest, what: "manifest")
                let manifest = try CanonicalJSON.decode(Manifest.self, from: manifestBytes, kind: "manifest \(named.digest)")
                let configBytes = try store.readBlob(manifest.config.digest, what: "config")
                let config = try CanonicalJSON.decode(ImageConfig.self, from: configBytes, kind: "config \(manifest.config.digest)")
                let record = BuildRecord.all(name, store: store).last { $0.manifest == named.digest }
                let pinned = lockFile?.images[name]?.upstream
                if let recorded = record?.upstream, let pinned, recorded[Upstreams.identity] != pinned[Upstreams.identity] {
                    throw PipelineError.badInput(
                        "bake.lock pins another upstream for \(name) than its last build used ('bake update' moved it); run 'bake build \(name)' first, then verify")
                }
                result.append(Expected(
                    name: name, reference: record.map { "build #\($0.sequence)" } ?? "the store", manifest: named.digest,
                    manifestBytes: manifestBytes, configBytes: configBytes,
                    layers: zip(manifest.layers, config.rootfs.diffIDs).map { LockFile.Layer(digest: $0.digest, diffID: $1) },
                    record: record, sourceDateEpoch: record?.sourceDateEpoch,
                    metadata: record?.metadata ?? SourceMetadata(), upstream: record?.upstream ?? pinned))
            } else if let locked = lockFile?.images[name], let manifest = locked.manifest, let layers = locked.layers {
                result.append(Expected(
                    name: name, reference: "bake.lock", manifest: manifest,
                    manifestBytes: try? store.readBlob(manifest, what: "manifest"),
                    configBytes: locked.config.flatMap { try? store.readBlob($0, what: "config") },
                    layers: layers, record: nil, sourceDateEpoch: locked.sourceDateEpoch,
                    metadata: locked.metadata ?? SourceMetadata(), upstream: locked.upstream))
            } else {
                throw PipelineError.badInput(
                    "\(name) has not been built in \(store.root) and bake.lock has no result for it, so there is nothing to compare with; run 'bake build \(order.last!)' first")
            }
        }
        return result
    }
}
