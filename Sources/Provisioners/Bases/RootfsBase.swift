import Diagnostics
import Glibc
import Layers
import OCI

/// `from: {rootfs: PATH.tar}`: a root file system tarball (plain or gzip) as the image's
/// first layer. Its entries are checked (no `..`, no absolute path, nothing through a
/// symlink), extracted safely, and written again deterministically. Keyed on the tarball's
/// content, so an unchanged tarball is a cache hit.
public struct RootfsBase: BaseSource, Hashable {
    public static let kind = "rootfs"

    /// The tarball, relative to the image's folder or absolute.
    public var path: String

    public init(path: String) {
        self.path = path
    }

    public var description: String { "rootfs \(path)" }

    public var hostPaths: [String] { [path] }

    /// bake.lock keys.
    static let pathKey = "rootfs"
    static let contentKey = "rootfs.content"

    public func current(_ context: BaseContext) throws -> BasePin {
        BasePin([Self.pathKey: path, Self.contentKey: try listing(context).digest.description])
    }

    public func importImage(_ pin: BasePin, _ context: BaseContext) throws -> BaseImport {
        guard let content = pin.values[Self.contentKey].flatMap({ try? Digest(parsing: $0) }) else {
            throw ProvisionersError.baseFailed("the pin of the root file system tarball \(path) has no content digest")
        }
        let epoch = context.sourceDateEpoch ?? 0
        let name = path.split(separator: "/").last.map(String.init) ?? path
        let host = context.hostPath(path)
        let path = self.path
        return .layer(BaseLayerRecipe(
            spec: StepSpec(kind: "rootfs", arguments: [:]), inputs: content, network: false, epoch: epoch,
            summary: "rootfs \(name) (\(content))", environment: nil
        ) { layer in
            try Self.extract(host, shownAs: path, epoch: epoch, layer)
        })
    }

    /// The tarball's content listing (remembered by stat when building).
    func listing(_ context: BaseContext) throws -> InputListing {
        let host = context.hostPath(path)
        guard let status = try? FileSystem.statPath(host) else {
            throw InputError("the root file system tarball \(path) does not exist")
        }
        guard status.kind == .regular else {
            throw InputError("the root file system tarball \(path) is \(status.kind.article), not a regular file")
        }
        return try context.hasher.listing(of: host, remember: context.build)
    }

    /// Extracts the tarball (every entry checked) and writes the root as the layer.
    static func extract(_ host: String, shownAs path: String, epoch: Int64, _ context: BaseLayerContext) throws {
        let work = try context.workFolder("rootfs")
        defer { try? FileSystem.removeTree(work) }
        let root = work + "/root"
        try FileSystem.createDirectory(root)
        do {
            let file = try OpenFile.regularFile(host)
            var magic = [UInt8](repeating: 0, count: 2)
            let count = try magic.withUnsafeMutableBytes { try file.read(into: $0) }
            lseek(file.fd, 0, SEEK_SET)
            let raw: ByteSource = FileSource(file: file)
            let stream: ByteSource = count == 2 && magic == [0x1f, 0x8b] ? try GzipSource(upstream: raw, describedAs: path) : raw
            let reader = TarReader(source: stream)
            let extractor = try TreeExtractor(root: root, whiteouts: .apply)
            let tree = ImageFilesystem()
            while let entry = try reader.next() {
                try tree.applyChecked(layer: [entry], index: 0)
                try extractor.extractOne(entry, content: reader)
            }
            try extractor.finish()
        } catch let error as LayersError {
            throw ErrorWithContext("the root file system tarball \(path) is refused", cause: error, exitStatus: .badInput)
        }
        try context.capture(root, epoch: epoch)
    }
}
