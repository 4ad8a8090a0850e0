import Glibc
import OCI

extension ContentStore {
    /// Opens a layer blob as a tar stream. The compressed bytes are verified against the
    /// descriptor's digest and, when given, the uncompressed bytes against `diffID`; a
    /// mismatch surfaces as an error when the reader reaches the end of the archive.
    public func openLayer(_ descriptor: Descriptor, diffID: Digest?) throws -> TarReader {
        TarReader(source: try openLayerStream(descriptor, diffID: diffID))
    }

    /// The uncompressed bytes of a layer blob, verified like `openLayer`'s.
    public func openLayerStream(_ descriptor: Descriptor, diffID: Digest?) throws -> ByteSource {
        let blob = try openBlob(descriptor.digest, what: "layer")
        var stream: ByteSource
        switch descriptor.mediaType.layerCompression {
        case .gzip?:
            stream = try GzipSource(upstream: blob, describedAs: "layer \(descriptor.digest)")
        case LayerCompression.none?:
            stream = blob
        case .zstd?:
            throw LayersError.unsupported("layer \(descriptor.digest) is zstd-compressed, which this version of bake does not read")
        case nil:
            throw LayersError.unsupported("blob \(descriptor.digest) has media type \(descriptor.mediaType), which is not a layer")
        }
        if let diffID {
            stream = VerifyingSource(upstream: stream, expected: diffID, what: "uncompressed layer")
        }
        return stream
    }

    /// The merged metadata tree of an image's layers (every blob verified on the way).
    public func filesystem(layers: [Descriptor], diffIDs: [Digest]) throws -> ImageFilesystem {
        let tree = ImageFilesystem()
        for (index, layer) in layers.enumerated() {
            let reader = try openLayer(layer, diffID: index < diffIDs.count ? diffIDs[index] : nil)
            var entries: [TarEntry] = []
            while let entry = try reader.next() { entries.append(entry) }
            tree.apply(layer: entries, index: index)
        }
        return tree
    }

    /// The content of a regular file of an image, read from the layer that last wrote it;
    /// nil when the path is not a regular file in the image.
    public func readFile(
        _ path: RelativePath, in tree: ImageFilesystem, layers: [Descriptor], limit: Int = 16 << 20
    ) throws -> [UInt8]? {
        guard let entry = tree.entry(at: path), let index = tree.layerIndex(at: path), index >= 0 else { return nil }
        var wanted = path
        switch entry.kind {
        case .regular: break
        case .hardlink(let target): wanted = target
        default: return nil
        }
        let reader = try openLayer(layers[index], diffID: nil)
        while let candidate = try reader.next() {
            guard candidate.path == wanted else { continue }
            if case .hardlink(let target) = candidate.kind {
                wanted = target
                continue
            }
            guard candidate.contentSize <= Int64(limit) else {
                throw LayersError.unsupported("\(path.absoluteDescription) in the image is larger than \(limit) bytes")
            }
            let content = try reader.readAll(limit: limit)
            _ = try reader.next()  // reach the end so the layer's digest is verified
            while try reader.next() != nil {}
            return content
        }
        return nil
    }

    /// Extracts layers into `destination` (an empty folder), applying whiteouts: the image's
    /// root file system. Blobs are verified as they are read.
    public func extract(layers: [Descriptor], diffIDs: [Digest], into destination: String) throws -> Int {
        let extractor = try TreeExtractor(root: destination, whiteouts: .apply)
        for (index, layer) in layers.enumerated() {
            try extractor.extract(layer: openLayer(layer, diffID: index < diffIDs.count ? diffIDs[index] : nil))
        }
        try extractor.finish()
        return extractor.skippedDevices
    }
}

extension ContentStore {
    /// Moves a downloaded layer blob (`path`, a file in the store's temporary folder) into the
    /// store once its bytes are checked: they hash to the descriptor's digest and size, and,
    /// uncompressed, to `layer.diffID` (a registry names digests; only the bytes prove them).
    /// A file that fails is removed and the store is unchanged.
    public func adoptLayer(_ path: String, as layer: LayerBlob) throws {
        do {
            let file = try OpenFile.regularFile(path, followSymlinks: false)
            let compressed = VerifyingSource(upstream: FileSource(file: file), expected: layer.descriptor.digest,
                                             size: layer.descriptor.size, what: "layer")
            guard layer.descriptor.mediaType.layerCompression == .gzip else {
                throw LayersError.unsupported("blob \(layer.descriptor.digest) has media type \(layer.descriptor.mediaType), which is not a gzip layer")
            }
            let tar = VerifyingSource(upstream: try GzipSource(upstream: compressed, describedAs: "layer \(layer.descriptor.digest)"),
                                      expected: layer.diffID, size: layer.uncompressedSize, what: "uncompressed layer")
            _ = try tar.drain()
            // The gzip stream may end before the blob does: the rest must be read (and hashed) too.
            _ = try compressed.drain()
            try file.sync()
            try file.close()
        } catch {
            unlink(path)
            throw error
        }
        let destination = blobPath(layer.descriptor.digest)
        if !hasBlob(layer.descriptor.digest) { journalCreated(destination) }
        try FileSystem.rename(path, destination)
        FileSystem.syncDirectory(blobsPath)
    }
}
