import Glibc
import Layers
import OCI

/// `from: {oci: PATH, ref: NAME}`: an image of an OCI image layout, imported as it is (its
/// blobs keep their digests), every blob verified, every layer checked for entries that
/// would write outside the root or through a symlink.
struct OCILayoutImporter {
    let store: ContentStore

    func resolve(path: String, ref: String, stage: Stage, sourceDateEpoch: Int64?, importBlobs: Bool) throws -> (ImageBase, BaseLayer?, [String: String])? {
        let layout = ExternalBases.hostPath(path, stage: stage)
        let location = stage.baseLocation
        guard let indexBytes = try? FileSystem.readFile(layout + "/index.json") else {
            throw PipelineError.badInput("\(location): \(path) is not an OCI image layout (it has no index.json)")
        }
        let index = try CanonicalJSON.decode(Index.self, from: indexBytes, kind: "\(path)/index.json")
        guard var descriptor = index.manifest(named: ref) else {
            let names = index.refNames
            throw PipelineError.badInput("\(location): the OCI layout \(path) has no image '\(ref)'"
                + (names.isEmpty ? "" : " (it has: \(names.joined(separator: ", ")))"))
        }
        func blob(_ digest: Digest, _ what: String) throws -> [UInt8] {
            let file = "\(layout)/blobs/\(digest.algorithm.rawValue)/\(digest.encoded)"
            guard let opened = try? OpenFile(path: file, flags: O_RDONLY) else {
                throw PipelineError.badInput("\(location): the OCI layout \(path) lacks the \(what) blob \(digest)")
            }
            return try VerifyingSource(upstream: FileSource(file: opened), expected: digest, what: "\(what) in \(path)").readAll(limit: 64 << 20)
        }
        if descriptor.mediaType == .imageIndex || descriptor.mediaType == .dockerManifestList {
            let nested = try CanonicalJSON.decode(Index.self, from: try blob(descriptor.digest, "index"), kind: "image index \(descriptor.digest)")
            let host = HostPlatform.current
            guard let match = nested.manifests.first(where: { $0.platform?.architecture == host.architecture && $0.platform?.os == host.os }) else {
                throw PipelineError.badInput("\(location): '\(ref)' in \(path) has no image for \(host.os)/\(host.architecture)")
            }
            descriptor = match
        }
        let manifest = try CanonicalJSON.decode(Manifest.self, from: try blob(descriptor.digest, "manifest"), kind: "manifest \(descriptor.digest)")
        let configBytes = try blob(manifest.config.digest, "config")
        let config = try CanonicalJSON.decode(ImageConfig.self, from: configBytes, kind: "config \(manifest.config.digest)")
        guard config.rootfs.diffIDs.count == manifest.layers.count else {
            throw PipelineError.badInput("\(location): image '\(ref)' in \(path) lists \(manifest.layers.count) layers but \(config.rootfs.diffIDs.count) diffIDs")
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
                    guard let opened = try? OpenFile(path: file, flags: O_RDONLY) else {
                        throw PipelineError.badInput("\(location): the OCI layout \(path) lacks the layer blob \(layer.digest)")
                    }
                    do {
                        let blob = VerifyingSource(upstream: FileSource(file: opened), expected: layer.digest, what: "layer blob")
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
                    let opened = try OpenFile(path: file, flags: O_RDONLY)
                    let ingest = try store.beginIngest()
                    do {
                        try VerifyingSource(upstream: FileSource(file: opened), expected: layer.digest, what: "layer in \(path)").copy(to: ingest.sink)
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
}
