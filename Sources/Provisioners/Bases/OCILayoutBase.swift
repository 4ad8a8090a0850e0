import Diagnostics
import Glibc
import Layers
import OCI

/// `from: {oci: PATH, ref: NAME}`: an image of an OCI image layout, imported as it is (its
/// blobs keep their digests), every blob verified, every layer checked for entries that
/// would write outside the root or through a symlink. Nothing enters the store before every
/// check has passed.
public struct OCILayoutBase: BaseSource, Hashable {
    public static let kind = "oci"

    /// The layout folder, relative to the image's folder or absolute.
    public var path: String
    /// The image's name in the layout's index (`org.opencontainers.image.ref.name`).
    public var ref: String

    public init(path: String, ref: String) {
        self.path = path
        self.ref = ref
    }

    public var description: String { "oci \(path) \(ref)" }

    public var hostPaths: [String] { [path] }

    public func current(_ context: BaseContext) throws -> BasePin {
        let image = try read(layout: context.hostPath(path), as: path)
        return BasePin(["oci.layout": path, "oci.ref": ref, "oci.digest": image.descriptor.digest.description])
    }

    public func importImage(_ pin: BasePin, _ context: BaseContext) throws -> BaseImport {
        try importImage(layout: context.hostPath(path), shownAs: path, context: context, parentName: "oci:\(path):\(ref)")
    }

    /// Imports the image `ref` of the layout at `layout` (shown in messages as `shownAs`).
    /// Shared with registry bases, which pull into a layout first.
    func importImage(layout: String, shownAs: String, context: BaseContext, parentName: String) throws -> BaseImport {
        let image = try read(layout: layout, as: shownAs)
        if context.build { try bringIn(image, layout: layout, shownAs: shownAs, store: context.store) }
        let config = image.config
        return .image(ImageBase(
            state: image.descriptor.digest, layers: image.layers, diffIDs: config.rootfs.diffIDs, history: config.history ?? [],
            config: config.config,
            platform: Platform(architecture: config.architecture, os: config.os, variant: config.variant),
            epoch: context.sourceDateEpoch ?? config.created.flatMap(Timestamp.parseRFC3339) ?? 0,
            parent: ParentImage(name: parentName, digest: image.descriptor.digest)))
    }

    /// An image of a layout, read and checked but not imported.
    struct LayoutImage {
        /// The manifest's descriptor (of the host platform's manifest, for an index).
        var descriptor: Descriptor
        var manifest: Manifest
        var configBytes: [UInt8]
        var config: ImageConfig
        /// The layers with OCI media types (Docker's name the same bytes).
        var layers: [Descriptor]
    }

    /// Largest index.json, manifest or config read (documents of a few KB in practice).
    static let documentLimit = 4 << 20

    func read(layout: String, as shown: String) throws -> LayoutImage {
        let indexBytes: [UInt8]
        do {
            indexBytes = try FileSystem.readFile(layout + "/index.json", limit: Self.documentLimit)
        } catch let error as LayersError {
            switch error {
            case .system(_, _, let code) where code == ENOENT || code == ENOTDIR:
                throw InputError("\(shown) is not an OCI image layout (it has no index.json)")
            case .notRegularFile(_, let kind):
                throw InputError("the OCI layout \(shown) cannot be read: its index.json is \(kind.article), not a regular file")
            case .tooLarge:
                throw InputError("the OCI layout \(shown) cannot be read: its index.json is larger than \(Self.documentLimit >> 20) MiB, more than bake reads")
            default:
                throw ErrorWithContext("the OCI layout \(shown) cannot be read", cause: error, exitStatus: .badInput)
            }
        }
        /// A document of the layout decoded; one that is not what it must be is bad input.
        func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], _ what: String) throws -> T {
            do {
                return try CanonicalJSON.decode(type, from: bytes, kind: what)
            } catch {
                throw InputError("\(error)")
            }
        }
        let index = try decode(Index.self, indexBytes, "index.json of the OCI layout \(shown)")
        guard var descriptor = index.manifest(named: ref) else {
            let names = index.refNames
            throw InputError("the OCI layout \(shown) has no image '\(ref)'" + (names.isEmpty ? "" : " (it has: \(names.joined(separator: ", ")))"))
        }
        /// The bytes of a small blob of the layout, checked against its descriptor (digest,
        /// algorithm and size) before anything reads them.
        func blob(_ descriptor: Descriptor, _ what: String) throws -> [UInt8] {
            let digest = descriptor.digest
            try Self.checkSupported(descriptor, what: what, shown: shown)
            guard descriptor.size >= 0, descriptor.size <= Int64(Self.documentLimit) else {
                throw InputError("the \(what) \(digest) of the OCI layout \(shown) is described as \(descriptor.size) bytes, "
                    + (descriptor.size < 0 ? "which no blob can be" : "more than bake reads for a \(what)"))
            }
            let file = "\(layout)/blobs/\(digest.algorithm.rawValue)/\(digest.encoded)"
            do {
                let opened = try OpenFile.regularFile(file)
                return try VerifyingSource(upstream: FileSource(file: opened), expected: digest, size: descriptor.size, what: "\(what) in \(shown)")
                    .readAll(limit: Self.documentLimit)
            } catch let error as LayersError where error.errno == ENOENT {
                throw InputError("the OCI layout \(shown) lacks the \(what) blob \(digest)")
            } catch let error as LayersError {
                throw ErrorWithContext("the \(what) blob \(digest) of the OCI layout \(shown) is refused", cause: error, exitStatus: .badInput)
            }
        }
        if descriptor.mediaType == .imageIndex || descriptor.mediaType == .dockerManifestList {
            let nested = try decode(Index.self, try blob(descriptor, "index"), "image index \(descriptor.digest) of '\(ref)' in \(shown)")
            let host = HostPlatform.current
            guard let match = nested.manifests.first(where: { $0.platform?.architecture == host.architecture && $0.platform?.os == host.os }) else {
                throw InputError("'\(ref)' in \(shown) has no image for \(host.os)/\(host.architecture)")
            }
            descriptor = match
        }
        let manifest = try decode(Manifest.self, try blob(descriptor, "manifest"), "manifest \(descriptor.digest) of '\(ref)' in \(shown)")
        let configBytes = try blob(manifest.config, "config")
        let config = try decode(ImageConfig.self, configBytes, "config \(manifest.config.digest) of '\(ref)' in \(shown)")
        guard config.rootfs.diffIDs.count == manifest.layers.count else {
            throw InputError("image '\(ref)' in \(shown) lists \(manifest.layers.count) layers but \(config.rootfs.diffIDs.count) diffIDs")
        }
        for layer in manifest.layers { try Self.checkSupported(layer, what: "layer", shown: shown) }
        for diffID in config.rootfs.diffIDs where diffID.algorithm != .sha256 {
            throw InputError("image '\(ref)' in \(shown) has the diffID \(diffID), a \(diffID.algorithm.rawValue) digest, which bake does not support (only sha256)")
        }
        var layers: [Descriptor] = []
        for layer in manifest.layers {
            guard let compression = layer.mediaType.layerCompression else {
                throw InputError("layer \(layer.digest) of '\(ref)' has media type \(layer.mediaType), not a layer")
            }
            guard compression != .zstd else {
                throw InputError("layer \(layer.digest) of '\(ref)' is zstd-compressed, which bake does not read yet")
            }
            // Docker's media types name the same bytes as OCI's.
            layers.append(Descriptor(mediaType: compression == .gzip ? .layerTarGzip : .layerTar, digest: layer.digest, size: layer.size))
        }
        return LayoutImage(descriptor: descriptor, manifest: manifest, configBytes: configBytes, config: config, layers: layers)
    }

    /// Verifies every blob and checks every entry of every layer, straight from the layout,
    /// then copies the layers and the config into the store: a refused base leaves no trace
    /// there. Done once per manifest (`cache/imports/<hex>` remembers it).
    func bringIn(_ image: LayoutImage, layout: String, shownAs shown: String, store: ContentStore) throws {
        let marker = store.root + "/cache/imports/" + image.descriptor.digest.encoded
        guard (try? FileSystem.lstatIfExists(marker)) == nil else { return }
        let tree = ImageFilesystem()
        for (position, (layer, diffID)) in zip(image.layers, image.config.rootfs.diffIDs).enumerated() {
            let file = "\(layout)/blobs/\(layer.digest.algorithm.rawValue)/\(layer.digest.encoded)"
            do {
                let opened: OpenFile
                do {
                    opened = try OpenFile.regularFile(file)
                } catch let error as LayersError where error.errno == ENOENT {
                    throw InputError("the OCI layout \(shown) lacks the layer blob \(layer.digest)")
                }
                let actual = try opened.status().size
                guard actual == layer.size else {
                    throw InputError("layer \(layer.digest) of '\(ref)' in \(shown) is described as \(layer.size) bytes, but its blob has \(actual)")
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
                throw ErrorWithContext("layer \(layer.digest) of '\(ref)' in \(shown) is refused", cause: error, exitStatus: .badInput)
            }
        }
        for layer in image.layers where !(store.hasBlob(layer.digest) && (try? store.verifyBlob(layer.digest, what: "layer")) != nil) {
            let file = "\(layout)/blobs/\(layer.digest.algorithm.rawValue)/\(layer.digest.encoded)"
            let ingest = try store.beginIngest()
            do {
                let opened = try OpenFile.regularFile(file)
                try VerifyingSource(upstream: FileSource(file: opened), expected: layer.digest, size: layer.size, what: "layer in \(shown)")
                    .copy(to: ingest.sink)
            } catch let error as LayersError {
                throw ErrorWithContext("layer \(layer.digest) of '\(ref)' in \(shown) changed while bake read it", cause: error, exitStatus: .badInput)
            }
            _ = try ingest.commit()
        }
        try store.ensure(image.configBytes)
        try FileSystem.createDirectory(store.root + "/cache/imports")
        try store.writeAtomically(marker, Array("\(shown) \(ref)\n".utf8))
    }

    /// A descriptor bake can verify: a sha256 digest (the only algorithm bake hashes).
    static func checkSupported(_ descriptor: Descriptor, what: String, shown: String) throws {
        guard descriptor.digest.algorithm == .sha256 else {
            throw InputError("the \(what) \(descriptor.digest) of the OCI layout \(shown) is a \(descriptor.digest.algorithm.rawValue) digest, "
                + "which bake does not support (only sha256)")
        }
    }
}
