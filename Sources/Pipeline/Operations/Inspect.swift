import Provisioners
import Layers
import OCI

/// `bake inspect IMAGE --json`: name, manifest digest, layers, config, parent.
public struct ImageReport: Sendable, Encodable {
    /// A layer as it appears in the manifest and the config.
    public struct Layer: Sendable, Encodable {
        public var digest: Digest
        public var diffID: Digest
        public var size: Int64
    }

    public var name: String
    public var digest: Digest
    public var layers: [Layer]
    public var config: ImageConfig
    public var parent: ParentImage?

    enum CodingKeys: String, CodingKey { case name, digest, layers, config, parent }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(digest, forKey: .digest)
        try container.encode(layers, forKey: .layers)
        try container.encode(config, forKey: .config)
        // Always present, null for an image built on something outside the pipeline.
        if let parent { try container.encode(parent, forKey: .parent) } else { try container.encodeNil(forKey: .parent) }
    }

    /// Reads the image `name` names (`NAME`, `NAME@N`, `NAME@sha256:...`) from the store
    /// (every blob read is verified).
    public static func load(_ name: String, workspace: Workspace) throws -> ImageReport {
        try workspace.requireStore()
        let store = workspace.store
        let lock = try workspace.readLock()
        defer { withExtendedLifetime(lock) {} }
        let reference = try ImageReference(parsing: name)
        let descriptor = try reference.resolve(in: store)
        let manifest = try store.readManifest(descriptor.digest)
        let config = try store.readConfig(manifest.config.digest)
        guard manifest.layers.count == config.rootfs.diffIDs.count else {
            throw PipelineError.failed("image \(name) is inconsistent: its manifest lists \(manifest.layers.count) layers but its config \(config.rootfs.diffIDs.count) diffIDs")
        }
        var parent: ParentImage?
        if let parentName = manifest.annotations?[AnnotationKey.baseName],
           let parentDigest = manifest.annotations?[AnnotationKey.baseDigest] {
            parent = ParentImage(name: parentName, digest: try Digest(parsing: parentDigest))
        }
        return ImageReport(
            name: reference.name, digest: descriptor.digest,
            layers: zip(manifest.layers, config.rootfs.diffIDs).map { Layer(digest: $0.digest, diffID: $1, size: $0.size) },
            config: config, parent: parent
        )
    }
}
