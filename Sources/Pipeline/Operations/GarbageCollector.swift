import Glibc
import Layers
import OCI
import Provisioners

/// `bake gc`: removes blobs that no image of the index, no cache entry and no build record
/// refers to, and what interrupted writes left behind.
public struct GarbageReport: Sendable {
    public var removedBlobs = 0
    public var freedBytes: Int64 = 0
    public var keptBlobs = 0
    /// Unpacked layers removed (those of no live layer).
    public var removedUnpacked = 0
    /// True when a `bake run` was using unpacked layers, so they were left alone.
    public var unpackedInUse = false
    /// What gc could not clean up, one sentence each (it goes on regardless).
    public var warnings: [String] = []
    /// True when it removed `lost+found` (what `bake fsck --repair` had moved there).
    public var removedLostAndFound = false
}

public enum GarbageCollector {
    public static func collect(_ workspace: Workspace) throws -> GarbageReport {
        try workspace.requireStore()
        let store = workspace.store
        let lock = try store.lock(exclusive: true) { workspace.onLockWait(store.lockPath) }
        defer { withExtendedLifetime(lock) {} }
        var report = GarbageReport()
        report.warnings += store.removeTemporaryFiles()
        let lostAndFound = StoreRepair.lostAndFound(store)
        if (try? FileSystem.lstatIfExists(lostAndFound)) != nil {
            do {
                try FileSystem.removeTree(lostAndFound)
                report.removedLostAndFound = true
            } catch {
                report.warnings.append("cannot remove \(lostAndFound): \(error)")
            }
        }

        var live: Set<Digest> = []
        func keepManifest(_ digest: Digest) {
            live.insert(digest)
            if let manifest = try? store.readManifest(digest) {
                live.insert(manifest.config.digest)
                for layer in manifest.layers { live.insert(layer.digest) }
            }
        }
        for entry in try store.readIndex().manifests { keepManifest(entry.digest) }
        for entry in try StepCache(store: store).allEntries() { live.insert(entry.layer.descriptor.digest) }
        let buildsFolder = store.root + "/builds"
        if (try FileSystem.lstatIfExists(buildsFolder)) != nil {
            for image in try FileSystem.directoryEntries(Array(buildsFolder.utf8)) {
                for record in BuildRecord.all(FileSystem.text(image), store: store) {
                    // Past builds stay exportable (a rollback) as long as their blobs are alive.
                    live.insert(record.manifest)
                    live.insert(record.config)
                    live.formUnion(record.layers)
                }
            }
        }
        for name in try FileSystem.directoryEntries(Array(store.blobsPath.utf8)) {
            let text = FileSystem.text(name)
            guard let digest = try? Digest(algorithm: .sha256, encoded: text), live.contains(digest) else {
                let path = store.blobsPath + "/" + text
                let size = (try? FileSystem.lstatPath(path).size) ?? 0
                try FileSystem.removeTree(path)
                report.removedBlobs += 1
                report.freedBytes += size
                continue
            }
            report.keptBlobs += 1
        }
        FileSystem.syncDirectory(store.blobsPath)

        // Unpacked layers of no live layer, unless an image is running on them.
        let unpacked = UnpackedLayers(store: store)
        if let running = try? StoreLock(path: unpacked.lockPath, exclusive: true, wait: false) {
            var liveDiffIDs: Set<Digest> = []
            for digest in live {
                if let config = try? store.readConfig(digest) { liveDiffIDs.formUnion(config.rootfs.diffIDs) }
            }
            report.removedUnpacked = try unpacked.prune(keeping: liveDiffIDs)
            try? FileSystem.removeTree(store.root + "/runs")
            withExtendedLifetime(running) {}
        } else {
            report.unpackedInUse = true
        }
        return report
    }
}
