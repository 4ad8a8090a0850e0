import Glibc
import Layers
import OCI

/// `from: {oci: PATH, ref: NAME}`: an image of an OCI image layout, imported as it is (its
/// blobs keep their digests), every blob verified, every layer checked for entries that
/// would write outside the root or through a symlink.
struct OCILayoutImporter {
    let store: ContentStore

    /// Largest index.json, manifest or config read (documents of a few KB in practice).
    static let documentLimit = 4 << 20

    func resolve(path: String, ref: String, stage: Stage, sourceDateEpoch: Int64?, importBlobs: Bool) throws -> (ImageBase, BaseLayer?, [String: String])? {
        let layout = ExternalBases.hostPath(path, stage: stage)
        let location = stage.baseLocation
        let indexBytes: [UInt8]
        do {
            indexBytes = try FileSystem.readFile(layout + "/index.json", limit: Self.documentLimit)
        } catch let error as LayersError {
            switch error {
            case .system(_, _, let code) where code == ENOENT || code == ENOTDIR:
                throw PipelineError.badInput("\(location): \(path) is not an OCI image layout (it has no index.json)")
            case .notRegularFile(_, let kind):
                throw PipelineError.badInput("\(location): the OCI layout \(path) cannot be read: its index.json is \(kind.article), not a regular file")
            case .tooLarge:
                throw PipelineError.badInput("\(location): the OCI layout \(path) cannot be read: its index.json is larger than \(Self.documentLimit >> 20) MiB, more than bake reads")
            default:
                throw PipelineError.badInput("\(location): the OCI layout \(path) cannot be read: \(error)")
            }
        }
        /// A document of the layout decoded, or bad input naming the stage line and the document.
        func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], _ what: String) throws -> T {
            do {
                return try CanonicalJSON.decode(type, from: bytes, kind: what)
            } catch {
                throw PipelineError.badInput("\(location): \(error)")
            }
        }
        let index = try decode(Index.self, indexBytes, "index.json of the OCI layout \(path)")
        guard var descriptor = index.manifest(named: ref) else {
            let names = index.refNames
            throw PipelineError.badInput("\(location): the OCI layout \(path) has no image '\(ref)'"
                + (names.isEmpty ? "" : " (it has: \(names.joined(separator: ", ")))"))
        }
        /// The bytes of a small blob of the layout, checked against its descriptor (digest,
        /// algorithm and size) before anything reads them.
        func blob(_ descriptor: Descriptor, _ what: String) throws -> [UInt8] {
            let digest = descriptor.digest
            try Self.checkSupported(descriptor, what: what, location: location, path: path)
            guard descriptor.size >= 0, descriptor.size <= Int64(Self.documentLimit) else {
                throw PipelineError.badInput("\(location): the \(what) \(digest) of the OCI layout \(path) is described as \(descriptor.size) bytes, "
                    + (descriptor.size < 0 ? "which no blob can be" : "more than bake reads for a \(what)"))
            }
            let file = "\(layout)/blobs/\(digest.algorithm.rawValue)/\(digest.encoded)"
            do {
                let opened = try OpenFile.regularFile(file)
                return try VerifyingSource(upstream: FileSource(file: opened), expected: digest, size: descriptor.size, what: "\(what) in \(path)")
                    .readAll(limit: Self.documentLimit)
            } catch let error as LayersError where error.errno == ENOENT {
                throw PipelineError.badInput("\(location): the OCI layout \(path) lacks the \(what) blob \(digest)")
            } catch let error as LayersError {
                throw PipelineError.badInput("\(location): the \(what) blob \(digest) of the OCI layout \(path) is refused: \(error)")
            }
        }
        if descriptor.mediaType == .imageIndex || descriptor.mediaType == .dockerManifestList {
            let nested = try decode(Index.self, try blob(descriptor, "index"), "image index \(descriptor.digest) of '\(ref)' in \(path)")
            let host = HostPlatform.current
            guard let match = nested.manifests.first(where: { $0.platform?.architecture == host.architecture && $0.platform?.os == host.os }) else {
                throw PipelineError.badInput("\(location): '\(ref)' in \(path) has no image for \(host.os)/\(host.architecture)")
            }
            descriptor = match
        }
        let manifest = try decode(Manifest.self, try blob(descriptor, "manifest"), "manifest \(descriptor.digest) of '\(ref)' in \(path)")
        let configBytes = try blob(manifest.config, "config")
        let config = try decode(ImageConfig.self, configBytes, "config \(manifest.config.digest) of '\(ref)' in \(path)")
        guard config.rootfs.diffIDs.count == manifest.layers.count else {
            throw PipelineError.badInput("\(location): image '\(ref)' in \(path) lists \(manifest.layers.count) layers but \(config.rootfs.diffIDs.count) diffIDs")
        }
        for layer in manifest.layers { try Self.checkSupported(layer, what: "layer", location: location, path: path) }
        for diffID in config.rootfs.diffIDs where diffID.algorithm != .sha256 {
            throw PipelineError.badInput("\(location): image '\(ref)' in \(path) has the diffID \(diffID), a \(diffID.algorithm.rawValue) digest, which bake does not support (only sha256)")
        }
        var layers: [Descriptor] = []
        for layer in manifest.layers {
            guard let compression = layer.mediaType.layerCompression else {
                throw PipelineError.badInput("\(location): layer \(layer.digest) of '\(ref)' has media type \(layer.mediaType), not a layer")
            }
            guard compression != .zstd else {
                throw PipelineError.badInput("\(location): layer \(layer.digest) of '\(ref)' is zstd-compressed, which bake does not read yet")
            }
            // Docker's media types name the same bytes as OCI's.
            layers.append(Descriptor(mediaType: compression == .gzip ? .layerTarGzip : .layerTar, digest: layer.digest, size: layer.size))
        }
        if importBlobs {
            let marker = store.root + "/cache/imports/" + descriptor.digest.encoded
            if (try? FileSystem.lstatIfExists(marker)) == nil {
                // Every blob verified and every entry of every layer checked, straight from the
                // layout, before anything enters the store: a refused base leaves no trace there.
                let tree = ImageFilesystem()
                for (position, (layer, diffID)) in zip(layers, config.rootfs.diffIDs).enumerated() {
                    let file = "\(layout)/blobs/\(layer.digest.algorithm.rawValue)/\(layer.digest.encoded)"
                    do {
                        let opened: OpenFile
                        do {
                            opened = try OpenFile.regularFile(file)
                        } catch let error as LayersError where error.errno == ENOENT {
                            throw PipelineError.badInput("\(location): the OCI layout \(path) lacks the layer blob \(layer.digest)")
                        }
                        let actual = try opened.status().size
                        guard actual == layer.size else {
                            throw PipelineError.badInput("\(location): layer \(layer.digest) of '\(ref)' in \(path) is described as \(layer.size) bytes, but its blob has \(actual)")
                        }
                        let blob = VerifyingSource(upstream: FileSource(file: opened), expected: layer.digest, size: layer.size, what: "layer blob")
                        let plain: ByteSource = layer.mediaType == .layerTarGzip ? try GzipSource(upstream: blob, describedAs: "layer \(layer.digest)") : blob
                        let stream = VerifyingSource(upstream: plain, expected: diffID, what: "uncompressed layer")
                        let reader = TarReader(source: stream)
                        var entries: [TarEntry] = []
                        while let entry = try reader.next() { entries.append(entry) }
                        _ = try stream.drain()
                        _ = try blob.drain()
                        try tree.applyChecked(layer: entries, index: position)
                    } catch let error as LayersError {
                        throw PipelineError.badInput("\(location): layer \(layer.digest) of '\(ref)' in \(path) is refused: \(error)")
                    }
                }
                for layer in layers where !(store.hasBlob(layer.digest) && (try? store.verifyBlob(layer.digest, what: "layer")) != nil) {
                    let file = "\(layout)/blobs/\(layer.digest.algorithm.rawValue)/\(layer.digest.encoded)"
                    let ingest = try store.beginIngest()
                    do {
                        let opened = try OpenFile.regularFile(file)
                        try VerifyingSource(upstream: FileSource(file: opened), expected: layer.digest, size: layer.size, what: "layer in \(path)")
                            .copy(to: ingest.sink)
                    } catch let error as LayersError {
                        throw PipelineError.badInput("\(location): layer \(layer.digest) of '\(ref)' in \(path) changed while bake read it: \(error)")
                    }
                    _ = try ingest.commit()
                }
                try store.ensure(configBytes)
                try FileSystem.createDirectory(store.root + "/cache/imports")
                try store.writeAtomically(marker, Array("\(path) \(ref)\n".utf8))
            }
        }
        let base = ImageBase(
            state: descriptor.digest, layers: layers, diffIDs: config.rootfs.diffIDs, history: config.history ?? [],
            config: config.config,
            platform: Platform(architecture: config.architecture, os: config.os, variant: config.variant),
            epoch: sourceDateEpoch ?? config.created.flatMap(Timestamp.parseRFC3339) ?? 0,
            parent: ParentImage(name: "oci:\(path):\(ref)", digest: descriptor.digest))
        return (base, nil, ["oci.layout": path, "oci.ref": ref, "oci.digest": descriptor.digest.description])
    }

    /// A descriptor bake can verify: a sha256 digest (the only algorithm bake hashes).
    static func checkSupported(_ descriptor: Descriptor, what: String, location: SourceLocation, path: String) throws {
        guard descriptor.digest.algorithm == .sha256 else {
            throw PipelineError.badInput("\(location): the \(what) \(descriptor.digest) of the OCI layout \(path) is a \(descriptor.digest.algorithm.rawValue) digest, "
                + "which bake does not support (only sha256)")
        }
    }
}
