import Glibc
import Layers
import OCI
import Provisioners

/// One problem `bake fsck` found, with what `bake fsck --repair` does about it.
public struct FsckProblem: Sendable, Hashable, CustomStringConvertible {
    /// What is wrong, one sentence naming the blob, image, record or file.
    public var message: String
    /// What the repair does, for the sentence.
    public var repair: String
    /// The repair itself.
    let action: StoreRepair.Action

    /// "PROBLEM (bake fsck --repair REPAIR)".
    public var description: String { "\(message) (bake fsck --repair \(repair))" }
}

/// What `bake fsck` found.
public struct FsckReport: Sendable {
    /// Blobs hashed.
    public var blobs = 0
    /// Their total size.
    public var bytes: Int64 = 0
    /// Images named in the index.
    public var images = 0
    /// Build records read.
    public var records = 0
    /// Cache entries read.
    public var cacheEntries = 0
    /// Unpacked layers compared with their stamps.
    public var unpacked = 0
    /// One entry per problem; empty when the store is sound.
    public var problems: [FsckProblem] = []
    /// What `--repair` did, one sentence each.
    public var repaired: [String] = []
    /// Top-level entries of `lost+found` (what earlier repairs moved there).
    public var lostAndFound = 0
}

/// `bake fsck`: everything the store holds is checked, never following a symlink and never
/// waiting on a file: every blob against its digest; the layout file; the index, and each
/// image it names (manifest, config and layers present, intact and of the sizes their
/// descriptors give, as many diffIDs as layers); every build record (readable, and every
/// blob it names intact, so a rollback to it works); every step cache entry (readable,
/// named by its key, its layer intact); every saved input listing (its bytes hash to its
/// name); every unpacked layer (its content digest matches its stamp). With `repair`, what
/// is broken is moved to `STORE/lost+found` (nothing is deleted) and the index is rebuilt
/// from what is valid, so the next build makes again exactly what was lost.
public enum StoreChecker {
    public static func check(_ workspace: Workspace, repair: Bool = false) throws -> FsckReport {
        let store = workspace.store
        // A store whose oci-layout is gone is still a store to check (and repair).
        guard store.exists || (try? FileSystem.lstatIfExists(store.layoutPath))?.kind == .directory else {
            try workspace.requireStore()
            return FsckReport()
        }
        if repair {
            let lock = try store.lock(exclusive: true) { workspace.onLockWait(store.lockPath) }
            defer { withExtendedLifetime(lock) {} }
            let found = inspect(store)
            let repaired = try StoreRepair(store: store).apply(found.problems)
            var report = inspect(store)
            report.repaired = repaired
            return report
        }
        let lock = try workspace.readLock()
        defer { withExtendedLifetime(lock) {} }
        return inspect(store)
    }

    /// Checks everything; call under a store lock.
    static func inspect(_ store: ContentStore) -> FsckReport {
        var checker = Inspection(store: store)
        checker.run()
        return checker.report
    }

    private struct Inspection {
        let store: ContentStore
        var report = FsckReport()
        /// Blobs that verified, with their sizes.
        var good: [Digest: Int64] = [:]

        init(store: ContentStore) {
            self.store = store
        }

        mutating func problem(_ message: String, _ repair: String, _ action: StoreRepair.Action) {
            report.problems.append(FsckProblem(message: message, repair: repair, action: action))
        }

        mutating func moveAside(_ path: String, _ message: String, then: String = "the next build makes it again") {
            problem(message, "moves it to lost+found; \(then)", .moveAside(path))
        }

        /// The entries of a folder of the store that must be a folder; nil (and a problem)
        /// when it is something else, [] when it is absent.
        mutating func folder(_ path: String, what: String) -> [[UInt8]]? {
            guard let status = try? FileSystem.lstatIfExists(path) else { return [] }
            guard status.kind == .directory else {
                moveAside(path, "\(path) (\(what)) is \(status.kind.article), not a folder")
                return nil
            }
            do {
                return try FileSystem.directoryEntries(Array(path.utf8))
            } catch {
                problem("\(what) cannot be read: \(error)", "cannot repair this; fix the permissions of \(path)", .none)
                return nil
            }
        }

        mutating func run() {
            checkLayoutFile()
            checkBlobs()
            checkIndex()
            checkRecords()
            checkCache()
            checkUnpacked()
            report.lostAndFound = ((try? FileSystem.directoryEntries(Array(StoreRepair.lostAndFound(store).utf8))) ?? []).count
        }

        mutating func checkLayoutFile() {
            let path = store.layoutPath + "/oci-layout"
            guard (try? FileSystem.lstatIfExists(path)) != nil else {
                problem("the store has no \(path), the file that makes .bake/oci an OCI layout", "writes it", .writeLayoutFile)
                return
            }
            do {
                try store.validateLayout()
            } catch {
                problem("the layout file is unusable: \(error)", "moves it to lost+found and writes a new one", .replaceLayoutFile)
            }
        }

        mutating func checkBlobs() {
            let blobs = store.layoutPath + "/blobs"
            guard let algorithms = folder(blobs, what: "the blob folder") else { return }
            for algorithmName in algorithms {
                let name = FileSystem.text(algorithmName)
                let path = blobs + "/" + name
                guard let algorithm = Digest.Algorithm(rawValue: name) else {
                    moveAside(path, "\(path) is not a blob folder bake knows (only sha256)", then: "nothing refers to it")
                    continue
                }
                guard let names = folder(path, what: "the \(name) blob folder") else { continue }
                for entry in names {
                    let file = path + "/" + FileSystem.text(entry)
                    guard let digest = try? Digest(algorithm: algorithm, encoded: FileSystem.text(entry)) else {
                        moveAside(file, "\(file) is not named after a digest", then: "nothing refers to it")
                        continue
                    }
                    guard algorithm == .sha256 else {
                        moveAside(file, "blob \(digest) uses \(algorithm.rawValue), which bake cannot verify")
                        continue
                    }
                    guard let status = try? FileSystem.lstatPath(file), status.kind == .regular else {
                        let kind = (try? FileSystem.lstatPath(file))?.kind.article ?? "unreadable"
                        moveAside(file, "blob \(digest) is \(kind), not a regular file")
                        continue
                    }
                    do {
                        let source = try store.openBlob(digest, what: "blob")
                        let size = try source.drain()
                        report.bytes += size
                        report.blobs += 1
                        good[digest] = size
                    } catch {
                        moveAside(file, "\(error)")
                    }
                }
            }
        }

        /// True when `descriptor` names a blob that verified and has the size it gives;
        /// otherwise says why in `why`.
        func intact(_ descriptor: Descriptor, _ what: String, why: inout String) -> Bool {
            guard let size = good[descriptor.digest] else {
                why = "\(what) \(descriptor.digest) is missing or corrupt"
                return false
            }
            guard size == descriptor.size else {
                why = "\(what) \(descriptor.digest) is described as \(descriptor.size) bytes but has \(size)"
                return false
            }
            return true
        }

        mutating func checkIndex() {
            let index: Index
            do {
                guard (try FileSystem.lstatIfExists(store.layoutPath + "/index.json")) != nil else {
                    problem("the store has no \(store.layoutPath)/index.json, which names its images",
                            "writes it again from the build records", .rebuildIndex)
                    return
                }
                index = try store.readIndex()
            } catch {
                problem("\(error)", "moves it to lost+found and writes it again from the build records", .rebuildIndex)
                return
            }
            for entry in index.manifests {
                report.images += 1
                guard let name = entry.annotations?[AnnotationKey.refName] else {
                    problem("the index names manifest \(entry.digest) without an image name", "drops the entry", .dropIndexEntry(entry.digest.description))
                    continue
                }
                var why = ""
                if let reason = imageProblem(manifest: entry, why: &why) {
                    problem("image \(name): \(reason)", "drops \(name) from the index; the next build of \(name) makes it again", .dropIndexEntry(name))
                }
            }
        }

        /// Why the image whose manifest `descriptor` names is unusable, or nil.
        func imageProblem(manifest descriptor: Descriptor, why: inout String) -> String? {
            guard intact(descriptor, "manifest", why: &why) else { return why }
            guard let manifest = try? store.readManifest(descriptor.digest) else {
                return "its manifest \(descriptor.digest) is not a manifest bake can read"
            }
            guard intact(manifest.config, "config", why: &why) else { return why }
            guard let config = try? store.readConfig(manifest.config.digest) else {
                return "its config \(manifest.config.digest) is not an image config bake can read"
            }
            if config.rootfs.diffIDs.count != manifest.layers.count {
                return "\(manifest.layers.count) layers but \(config.rootfs.diffIDs.count) diffIDs"
            }
            for layer in manifest.layers where !intact(layer, "layer", why: &why) { return why }
            return nil
        }

        mutating func checkRecords() {
            let builds = store.root + "/builds"
            guard let images = folder(builds, what: "the build records") else { return }
            for imageName in images {
                let image = FileSystem.text(imageName)
                let path = builds + "/" + image
                guard let files = folder(path, what: "the build records of \(image)") else { continue }
                for fileName in files {
                    let file = path + "/" + FileSystem.text(fileName)
                    let text = FileSystem.text(fileName)
                    guard text.hasSuffix(".json"), let sequence = Int(text.dropLast(5)), BuildRecord.name(sequence) == text else {
                        moveAside(file, "\(file) is not a build record", then: "nothing refers to it")
                        continue
                    }
                    report.records += 1
                    guard let record = BuildRecord.load(image, sequence: sequence, store: store) else {
                        let reason = (try? FileSystem.readFile(file, limit: 64 << 20)).flatMap { bytes -> String? in
                            do { _ = try CanonicalJSON.decode(BuildRecord.self, from: bytes, kind: "build record \(file)"); return nil } catch { return "\(error)" }
                        } ?? "the build record \(file) cannot be read"
                        moveAside(file, reason, then: "'bake history \(image)' no longer lists it")
                        continue
                    }
                    let named = [(record.manifest, "manifest"), (record.config, "config")] + record.layers.map { ($0, "layer") }
                    if let (digest, what) = named.first(where: { good[$0.0] == nil }) {
                        moveAside(file, "build \(image)@\(sequence) names the \(what) \(digest), which is missing or corrupt, so 'bake export \(image)@\(sequence)' cannot work",
                                  then: "'bake history \(image)' no longer lists it")
                    }
                }
            }
        }

        mutating func checkCache() {
            let steps = StepCache(store: store).folder
            if let names = folder(steps, what: "the step cache") {
                for name in names {
                    let text = FileSystem.text(name)
                    let file = steps + "/" + text
                    guard text.hasSuffix(".json"), let key = try? Digest(algorithm: .sha256, encoded: String(text.dropLast(5))) else {
                        moveAside(file, "\(file) is not a step cache entry", then: "nothing refers to it")
                        continue
                    }
                    report.cacheEntries += 1
                    let entry: CacheEntry
                    do {
                        entry = try CanonicalJSON.decode(CacheEntry.self, from: FileSystem.readFile(file, limit: 1 << 20), kind: "step cache entry \(file)")
                    } catch {
                        moveAside(file, "\(error)", then: "the next build runs its step again")
                        continue
                    }
                    var why = ""
                    if entry.key != key {
                        moveAside(file, "the step cache entry \(file) answers the key \(entry.key), not the one it is named after", then: "the next build runs its step again")
                    } else if !intact(entry.layer.descriptor, "layer", why: &why) {
                        moveAside(file, "cache entry \(key.short): \(why)", then: "the next build runs its step again")
                    }
                }
            }
            let inputs = store.root + "/cache/inputs"
            if let names = folder(inputs, what: "the saved input listings") {
                for name in names {
                    let file = inputs + "/" + FileSystem.text(name)
                    guard let digest = try? Digest(algorithm: .sha256, encoded: FileSystem.text(name)),
                          let bytes = try? FileSystem.readFile(file, limit: 256 << 20), Digest.sha256(bytes) == digest else {
                        moveAside(file, "the input listing \(file) is not the listing it is named after", then: "'bake why' no longer details that build")
                        continue
                    }
                }
            }
        }

        mutating func checkUnpacked() {
            let unpacked = UnpackedLayers(store: store)
            guard let names = folder(unpacked.root, what: "the unpacked layers") else { return }
            for name in names {
                let text = FileSystem.text(name)
                guard let diffID = try? Digest(algorithm: .sha256, encoded: text) else { continue }  // stamps, leftovers: gc's
                report.unpacked += 1
                if case .changed(let why) = unpacked.condition(diffID, full: true, refresh: false) {
                    problem("unpacked layer \(diffID.short) (\(unpacked.path(diffID))) \(why)",
                            "moves it to lost+found; the next step that needs it unpacks it again", .moveUnpacked(diffID))
                }
            }
        }
    }
}
