import CZlib
import OCI

/// A layer blob in the store.
public struct LayerBlob: Sendable, Hashable, Codable {
    /// The compressed blob (`application/vnd.oci.image.layer.v1.tar+gzip`).
    public var descriptor: Descriptor
    /// sha256 of the uncompressed tar (the config's `rootfs.diff_ids` entry).
    public var diffID: Digest
    /// Size of the uncompressed tar.
    public var uncompressedSize: Int64

    public init(descriptor: Descriptor, diffID: Digest, uncompressedSize: Int64) {
        self.descriptor = descriptor
        self.diffID = diffID
        self.uncompressedSize = uncompressedSize
    }
}

/// Writes one layer into the store in a single streaming pass:
/// tar -> sha256 (diffID) -> gzip -> sha256 (digest) -> temporary file -> rename.
public final class LayerWriter {
    /// Where the layer's entries are written, in canonical order.
    public let tar: TarWriter
    private let ingest: BlobIngest
    private let uncompressed: DigestingSink

    /// Starts a layer; `threads` compress in parallel without changing the bytes.
    public init(store: ContentStore, threads: Int = GzipSink.defaultThreads) throws {
        ingest = try store.beginIngest()
        let gzip = GzipSink(downstream: ingest.sink, level: LayerFormat.gzipLevel, threads: threads)
        uncompressed = DigestingSink(downstream: gzip)
        tar = TarWriter(sink: uncompressed)
    }

    /// Ends the archive and stores the blob.
    public func commit() throws -> LayerBlob {
        try tar.finish()
        let (digest, size) = try ingest.commit()
        return LayerBlob(
            descriptor: Descriptor(mediaType: .layerTarGzip, digest: digest, size: size),
            diffID: uncompressed.digest,
            uncompressedSize: uncompressed.count
        )
    }
}

/// The fixed parameters of the layers bake writes. Changing any of them changes layer
/// digests, so `version` is part of every cache key.
public enum LayerFormat {
    /// Bumped whenever the bytes bake writes for the same input change.
    public static let version = 1
    /// gzip level: zlib's default, a balance of size and speed; fixed for reproducibility.
    public static let gzipLevel: Int32 = 6
    /// The zlib bake compresses with: another deflate implementation may give other bytes.
    public static let zlibVersion: String = {
        guard let version = CZlib.zlibVersion() else { return "unknown" }
        var bytes: [UInt8] = []
        var pointer = version
        while pointer.pointee != 0 {
            bytes.append(UInt8(bitPattern: pointer.pointee))
            pointer += 1
        }
        return String(decoding: bytes, as: UTF8.self)
    }()
}
