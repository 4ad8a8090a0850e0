import Glibc
import Layers
import OCI
import Provisioners

/// `bake fsck --repair`: what fsck found broken is moved out of the way, into
/// `STORE/lost+found` at the same relative path (renamed, never deleted, never followed if
/// it is a symlink), and the index is written again from what is valid, so the next build
/// makes exactly what was lost and nothing valid is lost. Runs under the exclusive lock.
struct StoreRepair {
    let store: ContentStore

    /// What to do about one problem.
    enum Action: Sendable, Hashable {
        /// Nothing bake can do (a folder it may not read).
        case none
        /// Move a file or folder of the store to lost+found.
        case moveAside(String)
        /// Move an unpacked layer and its stamp to lost+found.
        case moveUnpacked(Digest)
        /// Write the missing `oci-layout`.
        case writeLayoutFile
        /// Move an unusable `oci-layout` away and write a new one.
        case replaceLayoutFile
        /// Move an unreadable (or write a missing) `index.json`: the newest intact build of
        /// each image is named again.
        case rebuildIndex
        /// Drop an image (or an unnamed manifest digest) whose blobs are broken from the index.
        case dropIndexEntry(String)
    }

    /// Where repairs move what they take out of the store.
    static func lostAndFound(_ store: ContentStore) -> String { store.root + "/lost+found" }

    /// Applies the repairs; returns one sentence per thing done.
    func apply(_ problems: [FsckProblem]) throws -> [String] {
        var done: [String] = []
        var moved: Set<String> = []
        let actions = problems.map(\.action)
        for action in actions {
            switch action {
            case .moveAside(let path):
                guard moved.insert(path).inserted, let line = try moveAside(path) else { continue }
                done.append(line)
            case .moveUnpacked(let diffID):
                let unpacked = UnpackedLayers(store: store)
                for path in [unpacked.path(diffID), unpacked.stampPath(diffID)] where moved.insert(path).inserted {
                    if let line = try moveAside(path) { done.append(line) }
                }
            default:
                continue
            }
        }
        if actions.contains(.replaceLayoutFile), let line = try moveAside(store.layoutPath + "/oci-layout") { done.append(line) }
        if actions.contains(.writeLayoutFile) || actions.contains(.replaceLayoutFile) {
            try FileSystem.createDirectory(store.blobsPath)
            try store.writeAtomically(store.layoutPath + "/oci-layout", CanonicalJSON.encode(ImageLayoutFile()))
            done.append("wrote \(store.layoutPath)/oci-layout")
        }
        if actions.contains(.rebuildIndex) {
            if (try? FileSystem.lstatIfExists(store.layoutPath + "/index.json")) != nil,
               let line = try moveAside(store.layoutPath + "/index.json") {
                done.append(line)
            }
            let index = rebuiltIndex()
            try store.writeIndex(index)
            done.append("wrote \(store.layoutPath)/index.json naming \(index.refNames.isEmpty ? "no image" : index.refNames.joined(separator: ", ")) from the build records")
        } else {
            let dropped = actions.compactMap { action -> String? in
                if case .dropIndexEntry(let name) = action { return name }
                return nil
            }
            if !dropped.isEmpty {
                var index = try store.readIndex()
                index.manifests.removeAll { entry in
                    dropped.contains(entry.annotations?[AnnotationKey.refName] ?? entry.digest.description)
                }
                try store.writeIndex(index)
                for name in dropped { done.append("dropped \(name) from the index") }
            }
        }
        return done
    }

    /// An index naming, for every image with build records, its newest build whose blobs
    /// are all intact (records naming broken blobs were moved away before).
    func rebuiltIndex() -> Index {
        var index = Index(manifests: [])
        let names = (try? FileSystem.directoryEntries(Array((store.root + "/builds").utf8))) ?? []
        for name in names.map(FileSystem.text) where Project.isValidImageName(name) {
            for record in BuildRecord.all(name, store: store).reversed() {
                let blobs = [record.manifest, record.config] + record.layers
                guard blobs.allSatisfy({ (try? store.verifyBlob($0, what: "blob")) != nil }),
                      let size = try? store.blobSize(record.manifest) else { continue }
                index.setManifest(Descriptor(mediaType: .imageManifest, digest: record.manifest, size: size), named: name)
                break
            }
        }
        return index
    }

    /// Moves `path` (a path of the store) to the same place under lost+found, with a
    /// numbered suffix if an earlier repair moved something there. Returns the sentence.
    private func moveAside(_ path: String) throws -> String? {
        guard path.hasPrefix(store.root + "/"), (try? FileSystem.lstatIfExists(path)) != nil else { return nil }
        let relative = String(path.dropFirst(store.root.count + 1))
        var destination = Self.lostAndFound(store) + "/" + relative
        try FileSystem.createDirectory(FileSystem.parent(of: destination), mode: 0o700)
        var suffix = 1
        while (try? FileSystem.lstatIfExists(destination)) != nil {
            destination = Self.lostAndFound(store) + "/" + relative + ".\(suffix)"
            suffix += 1
        }
        try FileSystem.rename(path, destination)
        return "moved \(path) to \(destination)"
    }
}
