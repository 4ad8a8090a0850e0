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

    /// What each image of `order` is expected to be: for an image another of `order` is
    /// built on, the exact build its child's record names as its parent (a later build of
    /// it, under another revision, is not what the child was made from); otherwise the
    /// image the store names (its last build), or else its result in bake.lock.
    func expectations(_ order: [String]) throws -> [Expected] {
        let store = workspace.store
        let lockFile = try LockFile.load(directory: project.directory)
        let storeLock = store.exists ? try workspace.readLock() : nil
        defer { withExtendedLifetime(storeLock) {} }
        // Children come after their parents in `order`: walk it backwards, so a parent's
        // build is known from its children's records before the parent is looked at.
        // Nothing to compare with for an image: say so for the first one, in build order.
        for name in order where lockFile?.images[name]?.manifest == nil {
            guard store.exists, try store.image(named: name) != nil else {
                throw PipelineError.badInput(
                    "\(name) has not been built in \(store.root) and bake.lock has no result for it, so there is nothing to compare with; run 'bake build \(order.last!)' first")
            }
        }
        var demanded: [String: (digest: Digest, by: String)] = [:]
        var result: [Expected] = []
        for name in order.reversed() {
            let named: Digest?
            if let wanted = demanded[name] {
                // An image asked for by name is its current build: one its child was not
                // built on cannot be verified in the same rebuild.
                if options.targets.contains(name), let current = store.exists ? try store.image(named: name)?.digest : nil,
                   current != wanted.digest {
                    throw PipelineError.badInput(
                        "\(wanted.by) was built on another build of \(name) than the one the store names (\(current)); verify them one at a time, or build them together ('bake build \(name) \(wanted.by)') and verify again")
                }
                guard store.hasBlob(wanted.digest) else {
                    throw PipelineError.badInput(
                        "\(wanted.by) was built on \(name) \(wanted.digest), which is no longer in \(store.root); run 'bake build \(order.last!)' first, then verify")
                }
                named = wanted.digest
            } else {
                named = store.exists ? try store.image(named: name)?.digest : nil
            }
            if let named {
                let manifestBytes = try store.readBlob(named, what: "manifest")
                let manifest = try CanonicalJSON.decode(Manifest.self, from: manifestBytes, kind: "manifest \(named)")
                let configBytes = try store.readBlob(manifest.config.digest, what: "config")
                let config = try CanonicalJSON.decode(ImageConfig.self, from: configBytes, kind: "config \(manifest.config.digest)")
                let record = BuildRecord.all(name, store: store).last { $0.manifest == named }
                let pinned = lockFile?.images[name]?.upstream
                if let recorded = record?.upstream, let pinned, recorded[Upstreams.identity] != pinned[Upstreams.identity] {
                    throw PipelineError.badInput(
                        "bake.lock pins another upstream for \(name) than its last build used ('bake update' moved it); run 'bake build \(name)' first, then verify")
                }
                if let parent = record?.parent, order.contains(parent.name) {
                    if let other = demanded[parent.name], other.digest != parent.digest {
                        throw PipelineError.badInput(
                            "\(other.by) and \(name) were built on different builds of \(parent.name); build them together ('bake build \(other.by) \(name)') and verify again")
                    }
                    demanded[parent.name] = demanded[parent.name] ?? (parent.digest, name)
                }
                result.append(Expected(
                    name: name, reference: record.map { "build #\($0.sequence)" } ?? "the store", manifest: named,
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
        return result.reversed()
    }
}
