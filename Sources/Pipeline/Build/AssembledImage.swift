import Layers
import OCI
import Provisioners

/// An image's config and manifest, computed (not yet necessarily stored).
public struct AssembledImage: Sendable {
    public var name: String
    public var config: ImageConfig
    public var configBytes: [UInt8]
    public var manifest: Manifest
    public var manifestBytes: [UInt8]
    public var manifestDescriptor: Descriptor

    /// The config and manifest of `stage` built on `base` with `layers` and their history
    /// texts. Pure: the same arguments give the same bytes, so a plan can predict a digest.
    static func assemble(
        _ stage: Stage, base: ImageBase, layers: [LayerBlob], histories: [String], metadata: SourceMetadata
    ) throws -> AssembledImage {
        // (The base's own layers, a debian or rootfs layer included, are in `base`.)
        let created = Timestamp.rfc3339(base.epoch)
        var history = base.history
        for text in histories { history.append(History(created: created, createdBy: "bake: " + text)) }
        var container = ConfigMerge.apply(stage.config, to: base.config) ?? ContainerConfig()
        let annotations = Self.metadata(created: created, base: base.parent, source: metadata,
                                        explicit: Set(stage.config.labels.map(\.0)), labels: &container)
        let config = ImageConfig(
            created: created, architecture: base.platform.architecture, os: base.platform.os, variant: base.platform.variant,
            config: container.isEmpty ? nil : container,
            rootfs: RootFS(diffIDs: base.diffIDs + layers.map(\.diffID)),
            history: history.isEmpty ? nil : history
        )
        let configBytes = try CanonicalJSON.encode(config)
        let configDescriptor = Descriptor(mediaType: .imageConfig, digest: Digest.sha256(configBytes), size: Int64(configBytes.count))
        let manifest = Manifest(config: configDescriptor, layers: base.layers + layers.map(\.descriptor),
                                annotations: annotations.isEmpty ? nil : annotations)
        let manifestBytes = try CanonicalJSON.encode(manifest)
        return AssembledImage(
            name: stage.name, config: config, configBytes: configBytes, manifest: manifest, manifestBytes: manifestBytes,
            manifestDescriptor: Descriptor(mediaType: .imageManifest, digest: Digest.sha256(manifestBytes), size: Int64(manifestBytes.count))
        )
    }
}

extension AssembledImage {
    /// The annotation keys bake fills in on every image.
    static let metadataKeys = [
        AnnotationKey.created, AnnotationKey.revision, AnnotationKey.source, AnnotationKey.version,
        AnnotationKey.baseName, AnnotationKey.baseDigest,
    ]

    /// Sets the metadata labels of an image (a label the stage file sets itself wins; one
    /// inherited from the parent is replaced or, when bake has no value, removed) and
    /// returns the same keys and values as manifest annotations.
    static func metadata(
        created: String, base: ParentImage?, source: SourceMetadata, explicit: Set<String>, labels container: inout ContainerConfig
    ) -> [String: String] {
        let values: [String: String?] = [
            AnnotationKey.created: created,
            AnnotationKey.revision: source.revision,
            AnnotationKey.source: source.source,
            AnnotationKey.version: source.version,
            AnnotationKey.baseName: base?.name,
            AnnotationKey.baseDigest: base?.digest.description,
        ]
        var labels = container.labels ?? [:]
        for key in metadataKeys where !explicit.contains(key) {
            labels[key] = values[key] ?? nil
        }
        container.labels = labels.isEmpty ? nil : labels
        var annotations: [String: String] = [:]
        for key in metadataKeys {
            if let value = labels[key] { annotations[key] = value }
        }
        return annotations
    }
}
