import Layers
import OCI

/// The outcome of `bake verify`.
public struct VerifyReport: Sendable, Encodable {
    /// One image: what it was and what the verification build made.
    public struct ImageResult: Sendable, Encodable {
        public var name: String
        /// Where the expected digest comes from: `build #N` or `bake.lock`.
        public var reference: String
        public var expected: Digest
        public var rebuilt: Digest
        public var reproducible: Bool
    }

    /// A layer on one side.
    public struct LayerSide: Sendable, Encodable {
        public var digest: Digest
        public var diffID: Digest
    }

    /// The first difference, down to the file.
    public struct Difference: Sendable, Encodable {
        public var image: String
        /// The step whose layer differs (0: the base's layer; nil: not a layer).
        public var step: Int?
        public var stepSummary: String?
        /// 1-based position of the layer in the image.
        public var layer: Int?
        public var expected: LayerSide?
        public var rebuilt: LayerSide?
        /// Paths that differ (at most 200) and how many differ in all.
        public var files: [FileDifference]
        public var filesTotal: Int
        /// Why files could not be compared, when they could not.
        public var filesUnavailable: String?
        /// Config differences as JSON paths.
        public var config: [String]
        /// Manifest differences as JSON paths.
        public var manifest: [String]
        /// diffoscope's output per path, with --diffoscope.
        public var diffoscope: [String: String]?
    }

    public var reproducible: Bool
    public var images: [ImageResult]
    public var difference: Difference?
    /// How the verification build's environment differed from the original.
    public var environment: [String: String]
    /// The kept folder (with --keep).
    public var kept: String?
}
