import Layers
import OCI

/// `bake fsck`: every blob checked against its digest, every image's manifest, config and
/// layers present and consistent.
public struct FsckReport: Sendable {
    /// Blobs hashed.
    public var blobs = 0
    /// Their total size.
    public var bytes: Int64 = 0
    /// Images named in the index.
    public var images = 0
    /// One sentence per problem; empty when the store is sound.
    public var problems: [String] = []
}

public enum StoreChecker {
    public static func check(_ workspace: Workspace) throws -> FsckReport {
        try workspace.requireStore()
        let store = workspace.store
        let lock = try workspace.readLock()
        defer { withExtendedLifetime(lock) {} }
        var report = FsckReport()
        do {
            try store.validateLayout()
        } catch {
            report.problems.append("the layout file is unusable: \(error)")
        }
        var good: Set<Digest> = []
        for algorithm in Digest.Algorithm.allCases {
            let folder = "\(store.layoutPath)/blobs/\(algorithm.rawValue)"
            guard (try? FileSystem.lstatIfExists(folder)) != nil else { continue }
            for nameBytes in try FileSystem.directoryEntries(Array(folder.utf8)) {
                let name = FileSystem.text(nameBytes)
                guard let digest = try? Digest(algorithm: algorithm, encoded: name) else {
                    report.problems.append("\(folder)/\(name) is not named after a digest")
                    continue
                }
                guard algorithm == .sha256 else {
                    report.problems.append("blob \(digest) uses \(algorithm.rawValue), which bake cannot verify")
                    continue
                }
                do {
                    let source = try store.openBlob(digest, what: "blob")
                    report.bytes += try source.drain()
                    report.blobs += 1
                    good.insert(digest)
                } catch {
                    report.problems.append("\(error)")
                }
            }
        }
        let index: Index
        do {
            index = try store.readIndex()
        } catch {
            report.problems.append("\(error)")
            return report
        }
        for entry in index.manifests {
            let name = entry.annotations?[AnnotationKey.refName] ?? entry.digest.description
            report.images += 1
            guard good.contains(entry.digest) else {
                report.problems.append("image \(name): its manifest \(entry.digest) is missing or corrupt")
                continue
            }
            do {
                let manifest = try store.readManifest(entry.digest)
                if !good.contains(manifest.config.digest) {
                    report.problems.append("image \(name): its config \(manifest.config.digest) is missing or corrupt")
                } else {
                    let config = try store.readConfig(manifest.config.digest)
                    if config.rootfs.diffIDs.count != manifest.layers.count {
                        report.problems.append("image \(name): \(manifest.layers.count) layers but \(config.rootfs.diffIDs.count) diffIDs")
                    }
                }
                for layer in manifest.layers where !good.contains(layer.digest) {
                    report.problems.append("image \(name): layer \(layer.digest) is missing or corrupt")
                }
            } catch {
                report.problems.append("image \(name): \(error)")
            }
        }
        for entry in (try? StepCache(store: store).allEntries()) ?? [] where !good.contains(entry.layer.descriptor.digest) {
            report.problems.append("cache entry \(entry.key.short): its layer \(entry.layer.descriptor.digest) is missing or corrupt (the next build rebuilds it)")
        }
        return report
    }
}
