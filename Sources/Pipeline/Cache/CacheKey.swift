import Layers
import OCI
import Provisioners

/// The cache key of a step, defined here and nowhere else (DESIGN.md, "Cache keys").
///
/// key(step) = sha256 of the canonical JSON of:
/// - `format`: bake's layer format version (`LayerFormat.version`) and the zlib version,
///   since either changes the bytes a step produces from the same inputs;
/// - `parent`: the state the step runs on, by its output: for the first step, the content
///   of the image below (`imageState`: its config without its build metadata labels, which
///   names its layers; `scratch` for none); for a later step, sha256 of the previous
///   state and the previous layer's diffID. A parent rebuilt into identical bytes therefore
///   leaves everything after it cached (early cutoff);
/// - `spec`: what the step says, normalised (`site` and `./site/` are the same source;
///   comments, YAML layout, key order and the stage's description are not in it);
/// - `inputs`: the digest of the listing of the files the step reads (names, modes as bake
///   writes them, content digests, link targets; never mtimes or owners);
/// - `secrets`: the ids (never the values) of the secrets the step mounts;
/// - `network`: whether the step has network access;
/// - `epoch`: the build time written into the layer (SOURCE_DATE_EPOCH or the derived time).
public struct CacheKey: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The parts, kept so `bake why` can say which one changed.
    public struct Parts: Sendable, Hashable, Codable {
        public var format: String
        public var parent: Digest
        public var spec: StepSpec
        public var inputs: Digest?
        public var secrets: [String]
        public var network: Bool
        public var epoch: Int64
    }

    public let parts: Parts
    public let digest: Digest

    public init(parent: Digest, spec: StepSpec, inputs: Digest?, secrets: [String], network: Bool, epoch: Int64) throws {
        parts = Parts(format: Self.format, parent: parent, spec: spec, inputs: inputs,
                      secrets: secrets.sorted(), network: network, epoch: epoch)
        digest = Digest.sha256(try CanonicalJSON.encode(parts))
    }

    public var description: String { digest.description }

    /// `bake-layer-v1 zlib-1.2.13`.
    public static let format = "bake-layer-v\(LayerFormat.version) zlib-\(LayerFormat.zlibVersion)"

    /// The state before the first step of an image built on `scratch`, and before a base's
    /// one layer.
    public static let scratch = Digest.sha256(Array("scratch".utf8))

    /// The state an image leaves for the first step of an image built on it: the digest of
    /// its config (layer diffIDs, environment, user...) without the labels that name where
    /// and when it was built (revision, source, version, created, base), so a new commit
    /// leaves the layers of every image cached.
    public static func imageState(_ config: ImageConfig) throws -> Digest {
        var config = config
        if var labels = config.config?.labels {
            for key in AssembledImage.metadataKeys { labels[key] = nil }
            config.config?.labels = labels.isEmpty ? nil : labels
        }
        return Digest.sha256(Array("bake-image-state\n".utf8) + (try CanonicalJSON.encode(config)))
    }

    /// The state after a step: its parent state and its layer.
    public static func state(after parent: Digest, layer diffID: Digest) -> Digest {
        Digest.sha256(Array("\(parent) \(diffID)".utf8))
    }
}
