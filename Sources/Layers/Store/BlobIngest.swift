import CBakeSystem
import Glibc
import OCI

/// A blob being written: bytes go through `sink`, are hashed on the way, and land in a
/// temporary file that `commit()` renames to the blob's name. Dropped without commit, the
/// temporary file is removed.
public final class BlobIngest {
    private let store: ContentStore
    private let temporaryPath: String
    private let file: OpenFile
    private let digesting: DigestingSink
    private var committed = false

    init(store: ContentStore) throws {
        self.store = store
        try store.createTemporaryFolder()
        // Blobs are content; their file mode (0644) is fixed whatever the umask.
        file = try FileSystem.makeTemporaryFile(in: store.temporaryPath, prefix: "blob")
        temporaryPath = file.path
        digesting = DigestingSink(downstream: FileSink(file: file, sync: true))
    }

    deinit {
        if !committed { unlink(temporaryPath) }
    }

    /// Where the blob's bytes are written.
    public var sink: ByteSink { digesting }

    /// Finishes the sink chain (flush, fsync) and moves the blob into place.
    public func commit() throws -> (digest: Digest, size: Int64) {
        try digesting.finish()
        try file.close()
        let digest = digesting.digest
        if !store.hasBlob(digest) { store.journalCreated(store.blobPath(digest)) }
        try FileSystem.rename(temporaryPath, store.blobPath(digest))
        committed = true
        FileSystem.syncDirectory(store.blobsPath)
        return (digest, digesting.count)
    }
}
