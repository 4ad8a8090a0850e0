import CBakeSystem
import Glibc
import OCI
import Synchronization

/// bake's store: `ROOT/oci` is an OCI image layout (blobs and an `index.json` naming each
/// image), `ROOT/tmp` holds blobs being written, `ROOT/lock` serialises processes.
///
/// Every write goes to a temporary file, is hashed while written, fsynced and renamed into
/// place, so killing bake at any moment leaves either the old state or the new one. Every
/// read of a blob is verified against its digest before its content is used.
///
/// The store is a value-like class whose state is on disk, guarded across processes (and
/// threads) by `StoreLock`; its one piece of memory is the journal of a running build
/// (`StoreJournal`). It does blocking file I/O, so it is deliberately not an actor.
public final class ContentStore: Sendable {
    /// The store's root folder (`.bake`).
    public let root: String
    /// What a build wrote, while one records (see `beginJournal()`).
    let journal = Mutex<StoreJournal?>(nil)

    public init(root: String) {
        self.root = root
    }

    /// The OCI image layout folder.
    public var layoutPath: String { root + "/oci" }
    /// Where blobs live.
    public var blobsPath: String { layoutPath + "/blobs/sha256" }
    /// Where blobs are written before they are renamed into place.
    public var temporaryPath: String { root + "/tmp" }
    /// The lock file.
    public var lockPath: String { root + "/lock" }
    var indexPath: String { layoutPath + "/index.json" }

    /// True when the store has been created.
    public var exists: Bool {
        (try? FileSystem.lstatIfExists(layoutPath + "/oci-layout")) != nil
    }

    /// Creates the store's folders and layout files if they are missing.
    public func create() throws {
        try createTemporaryFolder()
        try FileSystem.createDirectory(blobsPath)
        let layoutFile = layoutPath + "/oci-layout"
        if try FileSystem.lstatIfExists(layoutFile) == nil {
            try writeAtomically(layoutFile, CanonicalJSON.encode(ImageLayoutFile()))
        }
        if try FileSystem.lstatIfExists(indexPath) == nil {
            try writeAtomically(indexPath, CanonicalJSON.encode(Index(manifests: [])))
        }
        let ignore = root + "/.gitignore"
        if try FileSystem.lstatIfExists(ignore) == nil {
            // The store is a cache of build results; keep it out of the user's commits.
            try writeAtomically(ignore, Array("*\n".utf8))
        }
    }

    /// Checks that `ROOT/oci` is an image layout bake can use.
    public func validateLayout() throws {
        let bytes = try FileSystem.readFile(layoutPath + "/oci-layout", limit: 4096)
        let layout = try CanonicalJSON.decode(ImageLayoutFile.self, from: bytes, kind: "oci-layout file")
        guard layout.imageLayoutVersion == "1.0.0" else {
            throw LayersError.store("\(layoutPath)/oci-layout has version \(layout.imageLayoutVersion); bake reads 1.0.0")
        }
    }

    /// Locks the store (creating its folder if needed); see `StoreLock`.
    public func lock(exclusive: Bool, onWait: () -> Void) throws -> StoreLock {
        try createRoot()
        return try StoreLock(path: lockPath, exclusive: exclusive, onWait: onWait)
    }

    /// Removes leftovers of interrupted writes (and of steps and bases a killed bake was
    /// making). Call only while holding the exclusive lock. Never throws: a leftover that
    /// cannot be removed must not stop the command that found it; it is returned, with why,
    /// for a warning.
    @discardableResult
    public func removeTemporaryFiles() -> [String] {
        guard let names = try? FileSystem.directoryEntries(Array(temporaryPath.utf8)) else { return [] }
        var problems: [String] = []
        for name in names {
            do {
                try FileSystem.removeTree(bytes: Array(temporaryPath.utf8) + [0x2f] + name)
            } catch {
                problems.append("cannot remove the leftover \(temporaryPath)/\(FileSystem.text(name)): \(error)")
            }
        }
        return problems
    }

    // MARK: - Blobs

    /// The path of a blob in the layout.
    public func blobPath(_ digest: Digest) -> String {
        "\(layoutPath)/blobs/\(digest.algorithm.rawValue)/\(digest.encoded)"
    }

    /// True when a file for the blob exists (its content is not checked).
    public func hasBlob(_ digest: Digest) -> Bool {
        (try? FileSystem.lstatIfExists(blobPath(digest))) != nil
    }

    /// Size of a stored blob.
    public func blobSize(_ digest: Digest) throws -> Int64 {
        try FileSystem.lstatPath(blobPath(digest)).size
    }

    /// Starts writing a blob.
    public func beginIngest() throws -> BlobIngest {
        try BlobIngest(store: self)
    }

    /// Stores bytes as a blob and returns its digest.
    @discardableResult
    public func ingest(_ bytes: [UInt8]) throws -> Digest {
        let ingest = try beginIngest()
        try ingest.sink.write(bytes)
        return try ingest.commit().digest
    }

    /// Stores `bytes` unless an intact blob with them is already there (no write, no fsync):
    /// what lets a no-op build leave the store untouched.
    @discardableResult
    public func ensure(_ bytes: [UInt8]) throws -> Digest {
        let digest = Digest.sha256(bytes)
        if let existing = try? readBlob(digest, what: "blob", limit: bytes.count + 1), existing == bytes {
            return digest
        }
        return try ingest(bytes)
    }

    /// Opens a blob for reading; the returned source throws at its end if the bytes do
    /// not hash to `digest`. `what` names the blob in messages ("layer", "config"). A blob
    /// is a regular file: a symlink (to /dev/zero, say) or a pipe in its place is refused,
    /// never followed or waited on.
    public func openBlob(_ digest: Digest, what: String) throws -> VerifyingSource {
        let path = blobPath(digest)
        let file: OpenFile
        do {
            file = try OpenFile.regularFile(path, followSymlinks: false)
        } catch let error as LayersError where error.errno == ENOENT {
            throw LayersError.missingBlob(digest)
        }
        return VerifyingSource(upstream: FileSource(file: file), expected: digest, what: what)
    }

    /// Reads and verifies a small blob (a manifest or a config).
    public func readBlob(_ digest: Digest, what: String, limit: Int = 16 << 20) throws -> [UInt8] {
        try openBlob(digest, what: what).readAll(limit: limit)
    }

    /// Verifies a blob by reading it to the end.
    public func verifyBlob(_ digest: Digest, what: String) throws {
        try openBlob(digest, what: what).drain()
    }

    // MARK: - Index, manifests, configs

    /// The layout's `index.json`. An unreadable one is an error that names the repair.
    public func readIndex() throws -> Index {
        let hint = "; run 'bake fsck --repair' to write it again from the build records"
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.readFile(indexPath, limit: 64 << 20)
        } catch let error as LayersError where error.errno == ENOENT {
            return Index(manifests: [])
        } catch {
            throw LayersError.store("the store index cannot be read: \(error)\(hint)")
        }
        do {
            return try CanonicalJSON.decode(Index.self, from: bytes, kind: "store index \(indexPath)")
        } catch {
            throw LayersError.store("\(error)\(hint)")
        }
    }

    /// Replaces `index.json` atomically. Call only while holding the exclusive lock.
    public func writeIndex(_ index: Index) throws {
        try writeAtomically(indexPath, CanonicalJSON.encode(index))
    }

    /// Names `descriptor` (a manifest) `name` in the index. Call while holding the exclusive lock.
    public func setImage(_ name: String, manifest descriptor: Descriptor) throws {
        var index = try readIndex()
        index.setManifest(descriptor, named: name)
        try writeIndex(index)
    }

    /// The manifest descriptor named `name`, if any.
    public func image(named name: String) throws -> Descriptor? {
        try readIndex().manifest(named: name)
    }

    /// Reads and verifies a manifest.
    public func readManifest(_ digest: Digest) throws -> Manifest {
        try CanonicalJSON.decode(Manifest.self, from: readBlob(digest, what: "manifest"), kind: "manifest \(digest)")
    }

    /// Reads and verifies an image config.
    public func readConfig(_ digest: Digest) throws -> ImageConfig {
        try CanonicalJSON.decode(ImageConfig.self, from: readBlob(digest, what: "config"), kind: "config \(digest)")
    }

    /// Stores a JSON document canonically and returns its descriptor.
    public func ingestJSON<T: Encodable>(_ value: T, mediaType: MediaType, annotations: [String: String]? = nil) throws -> Descriptor {
        let bytes = try CanonicalJSON.encode(value)
        let digest = try ingest(bytes)
        return Descriptor(mediaType: mediaType, digest: digest, size: Int64(bytes.count), annotations: annotations)
    }

    /// Makes the store's folder, mode 0700: the scratch folders of steps, checks, runs and
    /// imports are inside it, and no other user of the host may enter them. A store an older
    /// bake made open to others is closed.
    public func createRoot() throws {
        try FileSystem.createDirectory(FileSystem.parent(of: root))
        try Self.createPrivateFolder(root)
    }

    /// Makes the store's temporary folder (and the store's folder), each mode 0700: it holds
    /// the upper dirs of running steps.
    public func createTemporaryFolder() throws {
        try createRoot()
        try Self.createPrivateFolder(temporaryPath)
    }

    /// mkdir with mode 0700 (the umask can only take bits away), or an existing folder
    /// closed to group and others.
    static func createPrivateFolder(_ path: String) throws {
        if mkdir(path, 0o700) == 0 { return }
        guard errno == EEXIST else { throw LayersError.system(operation: "create folder", path: path, errno: errno) }
        let status = try FileSystem.statPath(path)
        guard status.kind == .directory else { throw LayersError.system(operation: "create folder", path: path, errno: EEXIST) }
        if status.permissions & 0o077 != 0, chmod(path, mode_t(status.permissions & 0o700)) != 0 {
            throw LayersError.system(operation: "chmod", path: path, errno: errno)
        }
    }

    /// Writes a small file of the store atomically, through the store's temporary folder.
    public func writeAtomically(_ path: String, _ bytes: [UInt8]) throws {
        try createTemporaryFolder()
        journalWillWrite(path)
        try FileSystem.replaceAtomically(path, temporaryFolder: temporaryPath) { file in
            try bytes.withUnsafeBytes { try file.writeAll($0) }
        }
    }
}
