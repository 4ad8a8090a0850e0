import Diagnostics
import Glibc
import Layers
import OCI

/// Output formats of `bake export`.
public enum ExportFormat: String, Sendable, CaseIterable {
    /// An OCI image layout folder (created, or added to if it already is one).
    case oci
    /// An OCI image layout in one tar file (`skopeo copy oci-archive:...`).
    case ociArchive = "oci-archive"
    /// A `docker save` style tar that `docker load` and `podman load` accept.
    case dockerArchive = "docker-archive"
    /// The image's merged root file system, unpacked into a folder.
    case rootfs
}

/// What an export wrote.
public struct ExportResult: Sendable {
    public var path: String
    public var digest: Digest
    public var warnings: [String]
}

/// Writes an image of the store in another format. Every blob is verified as it is read,
/// and the output appears only when complete (written beside it, then renamed).
public enum Exporter {
    public static func export(_ name: String, format: ExportFormat, output: String, workspace: Workspace) throws -> ExportResult {
        let image = try ImageReport.load(name, workspace: workspace)
        let store = workspace.store
        let lock = try workspace.readLock()
        defer { withExtendedLifetime(lock) {} }
        let destination = Workspace.absolute(output, relativeTo: Workspace.currentDirectory())
        let descriptor = try ImageReference(parsing: name).resolve(in: store)
        let name = image.name
        let manifest = try store.readManifest(descriptor.digest)
        let epoch = image.config.created.flatMap(Timestamp.parseRFC3339) ?? 0
        var warnings: [String] = []
        do {
            switch format {
            case .oci:
                try exportLayout(name: name, descriptor: descriptor, manifest: manifest, store: store, to: destination)
            case .ociArchive:
                try writeArchive(to: destination) { tar in
                    try ociArchive(name: name, descriptor: descriptor, manifest: manifest, store: store, epoch: epoch, tar: tar)
                }
            case .dockerArchive:
                try writeArchive(to: destination) { tar in
                    try dockerArchive(name: name, manifest: manifest, diffIDs: image.config.rootfs.diffIDs, store: store, epoch: epoch, tar: tar)
                }
            case .rootfs:
                let skipped = try exportRootfs(manifest: manifest, diffIDs: image.config.rootfs.diffIDs, store: store, to: destination)
                if geteuid() != 0 {
                    warnings.append("not running as root: files in \(output) belong to you, not to the owners recorded in the image")
                }
                if skipped > 0 { warnings.append("\(skipped) device nodes were skipped (creating them needs root)") }
            }
        } catch let error as LayersError {
            throw ErrorWithContext("cannot export \(name) to \(output)", cause: error)
        }
        return ExportResult(path: destination, digest: descriptor.digest, warnings: warnings)
    }

    // MARK: - OCI layout folder

    /// An OCI layout at `path`: a new one is made beside it (`.bake-tmp-*`) and renamed into
    /// place when complete; an existing one gets its blobs first (each staged and renamed)
    /// and its index.json last, so it only ever names images whose blobs are all there.
    private static func exportLayout(name: String, descriptor: Descriptor, manifest: Manifest, store: ContentStore, to path: String) throws {
        // The folders on the way are made, as before (`mkdir -p`); the layout itself is
        // staged beside its final name.
        let parent = FileSystem.parent(of: path)
        try FileSystem.createDirectory(parent)
        FileSystem.removeAbandonedStaging(in: parent)
        if let status = try FileSystem.lstatIfExists(path) {
            let isLayout = (try? FileSystem.lstatIfExists(path + "/oci-layout")) != nil
            let isEmptyFolder = try status.kind == .directory && FileSystem.directoryEntries(Array(path.utf8)).isEmpty
            guard status.kind == .directory, isLayout || isEmptyFolder else {
                throw PipelineError.badInput("\(path) exists and is not an OCI layout; choose another --output or remove it")
            }
            if isLayout {
                try writeLayout(name: name, descriptor: descriptor, manifest: manifest, store: store, into: path)
                return
            }
        }
        let staged = try FileSystem.makeStagedFolder(in: parent, mode: 0o755)
        do {
            try writeLayout(name: name, descriptor: descriptor, manifest: manifest, store: store, into: staged.path)
            // Over nothing, or over the empty folder that was there (rename allows that).
            try FileSystem.rename(staged.path, path)
            FileSystem.syncDirectory(parent)
        } catch {
            try? FileSystem.removeTree(staged.path)
            throw error
        }
        withExtendedLifetime(staged) {}
    }

    private static func writeLayout(name: String, descriptor: Descriptor, manifest: Manifest, store: ContentStore, into path: String) throws {
        try FileSystem.createDirectory(path + "/blobs/sha256")
        // What an export killed while adding to this layout left.
        FileSystem.removeAbandonedStaging(in: path)
        FileSystem.removeAbandonedStaging(in: path + "/blobs/sha256")
        if try FileSystem.lstatIfExists(path + "/oci-layout") == nil {
            try writeFile(path + "/oci-layout", CanonicalJSON.encode(ImageLayoutFile()), folder: path)
        }
        for blob in manifest.layers.map(\.digest) + [manifest.config.digest, descriptor.digest] {
            let blobPath = "\(path)/blobs/sha256/\(blob.encoded)"
            if (try? FileSystem.lstatIfExists(blobPath)) != nil,
               (try? VerifyingSource(upstream: FileSource(file: OpenFile.regularFile(blobPath, followSymlinks: false)), expected: blob, what: "blob").drain()) != nil {
                continue
            }
            try FileSystem.replaceAtomically(blobPath, temporaryFolder: path + "/blobs/sha256") { file in
                let sink = FileSink(file: file, sync: false)
                try store.openBlob(blob, what: "blob").copy(to: sink)
                try sink.finish()
            }
        }
        var index = Index(manifests: [])
        if (try FileSystem.lstatIfExists(path + "/index.json")) != nil {
            let bytes: [UInt8]
            do {
                bytes = try FileSystem.readFile(path + "/index.json", limit: 64 << 20)
            } catch {
                throw PipelineError.badInput("\(path) is an OCI layout bake cannot add to: \(error)")
            }
            do {
                index = try CanonicalJSON.decode(Index.self, from: bytes, kind: "\(path)/index.json")
            } catch {
                throw PipelineError.badInput("\(path) is an OCI layout bake cannot add to: \(error)")
            }
        }
        index.setManifest(Descriptor(mediaType: descriptor.mediaType, digest: descriptor.digest, size: descriptor.size), named: name)
        try writeFile(path + "/index.json", CanonicalJSON.encode(index), folder: path)
    }

    private static func writeFile(_ path: String, _ bytes: [UInt8], folder: String) throws {
        try FileSystem.replaceAtomically(path, temporaryFolder: folder) { file in
            try bytes.withUnsafeBytes { try file.writeAll($0) }
        }
    }

    // MARK: - Archives

    private static func writeArchive(to path: String, _ body: (TarWriter) throws -> Void) throws {
        if let status = try FileSystem.lstatIfExists(path), status.kind == .directory {
            throw PipelineError.badInput("\(path) is a folder; give --output a file name for an archive")
        }
        let folder = FileSystem.parent(of: path)
        guard (try? FileSystem.statPath(folder))?.kind == .directory else {
            throw PipelineError.badInput("the folder of \(path) does not exist")
        }
        // What an export killed while writing here left.
        FileSystem.removeAbandonedStaging(in: folder)
        try FileSystem.replaceAtomically(path, temporaryFolder: folder) { file in
            let tar = TarWriter(sink: FileSink(file: file, sync: false))
            try body(tar)
            try tar.finish()
        }
    }

    private static func entry(_ path: String, _ kind: TarEntry.Kind, epoch: Int64) throws -> TarEntry {
        TarEntry(path: try RelativePath(path), kind: kind, mode: kind == .directory ? 0o755 : 0o644, mtime: epoch)
    }

    private static func ociArchive(
        name: String, descriptor: Descriptor, manifest: Manifest, store: ContentStore, epoch: Int64, tar: TarWriter
    ) throws {
        try tar.append(entry("blobs", .directory, epoch: epoch))
        try tar.append(entry("blobs/sha256", .directory, epoch: epoch))
        let blobs = Set(manifest.layers.map(\.digest) + [manifest.config.digest, descriptor.digest]).sorted()
        for blob in blobs {
            let size = try store.blobSize(blob)
            try tar.append(entry("blobs/sha256/\(blob.encoded)", .regular(size: size), epoch: epoch),
                           contentFrom: try store.openBlob(blob, what: "blob"), describedAs: "blob \(blob)")
        }
        var index = Index(manifests: [])
        index.setManifest(Descriptor(mediaType: descriptor.mediaType, digest: descriptor.digest, size: descriptor.size), named: name)
        let indexBytes = try CanonicalJSON.encode(index)
        try tar.append(entry("index.json", .regular(size: Int64(indexBytes.count)), epoch: epoch),
                       contentFrom: ArraySource(indexBytes), describedAs: "index.json")
        let layoutBytes = try CanonicalJSON.encode(ImageLayoutFile())
        try tar.append(entry("oci-layout", .regular(size: Int64(layoutBytes.count)), epoch: epoch),
                       contentFrom: ArraySource(layoutBytes), describedAs: "oci-layout")
    }

    /// The `docker save` layout: `<config>.json`, `<diffID>/layer.tar` (uncompressed),
    /// `manifest.json` and `repositories`.
    private static func dockerArchive(
        name: String, manifest: Manifest, diffIDs: [Digest], store: ContentStore, epoch: Int64, tar: TarWriter
    ) throws {
        struct DockerManifest: Encodable {
            // swiftlint:disable:next identifier_name
            var Config: String
            var RepoTags: [String]
            var Layers: [String]
        }
        var files: [(path: String, write: () throws -> Void)] = []
        let configName = "\(manifest.config.digest.encoded).json"
        let configBytes = try store.readBlob(manifest.config.digest, what: "config")
        files.append((configName, {
            try tar.append(entry(configName, .regular(size: Int64(configBytes.count)), epoch: epoch),
                           contentFrom: ArraySource(configBytes), describedAs: configName)
        }))
        var seen: Set<Digest> = []
        for (layer, diffID) in zip(manifest.layers, diffIDs) where !seen.contains(diffID) {
            seen.insert(diffID)
            // First pass: the uncompressed size, which the tar header needs; it also verifies both digests.
            let counting = try store.openLayerStream(layer, diffID: diffID)
            let size = try counting.drain()
            let folder = diffID.encoded
            files.append((folder, { try tar.append(entry(folder, .directory, epoch: epoch)) }))
            files.append((folder + "/layer.tar", {
                try tar.append(entry(folder + "/layer.tar", .regular(size: size), epoch: epoch),
                               contentFrom: try store.openLayerStream(layer, diffID: diffID), describedAs: "layer \(layer.digest)")
            }))
        }
        let tag = "\(name):latest"
        let manifestBytes = try CanonicalJSON.encode([DockerManifest(
            Config: configName, RepoTags: [tag], Layers: diffIDs.map { "\($0.encoded)/layer.tar" }
        )])
        files.append(("manifest.json", {
            try tar.append(entry("manifest.json", .regular(size: Int64(manifestBytes.count)), epoch: epoch),
                           contentFrom: ArraySource(manifestBytes), describedAs: "manifest.json")
        }))
        if let top = diffIDs.last {
            let repositories = try CanonicalJSON.encode([name: ["latest": top.encoded]])
            files.append(("repositories", {
                try tar.append(entry("repositories", .regular(size: Int64(repositories.count)), epoch: epoch),
                               contentFrom: ArraySource(repositories), describedAs: "repositories")
            }))
        }
        let ordered = try files.map { (try RelativePath($0.path), $0.write) }.sorted { $0.0 < $1.0 }
        for (_, write) in ordered { try write() }
    }

    // MARK: - Root file system

    private static func exportRootfs(manifest: Manifest, diffIDs: [Digest], store: ContentStore, to path: String) throws -> Int {
        if let status = try FileSystem.lstatIfExists(path) {
            guard status.kind == .directory, try FileSystem.directoryEntries(Array(path.utf8)).isEmpty else {
                throw PipelineError.badInput("\(path) exists and is not an empty folder; choose another --output or remove it")
            }
        }
        let parent = FileSystem.parent(of: path)
        guard (try? FileSystem.statPath(parent))?.kind == .directory else {
            throw PipelineError.badInput("the folder of \(path) does not exist")
        }
        FileSystem.removeAbandonedStaging(in: parent)
        // A root file system's / is 0755 unless a layer says otherwise.
        let staged = try FileSystem.makeStagedFolder(in: parent, mode: 0o755)
        do {
            let skipped = try store.extract(layers: manifest.layers, diffIDs: diffIDs, into: staged.path)
            // Over nothing, or over the empty folder that was there (rename allows that).
            try FileSystem.rename(staged.path, path)
            withExtendedLifetime(staged) {}
            return skipped
        } catch {
            try? FileSystem.removeTree(staged.path)
            throw error
        }
    }
}
