import CZlib
import OCI

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
