import Layers
import OCI

/// What a step did, for the image tree of later steps, the image history and the build record.
public struct StepOutcome: Sendable {
    /// The entries of its layer, in order (empty: the layer holds nothing).
    public var entries: [TarEntry]
    /// Its image history text, made from what the step means (normalised source, resolved
    /// destination, numeric owner), so rewording a stage file changes nothing.
    public var history: String
    /// What an apt step installed, as name=version, to record.
    public var packages: [String]?

    public init(entries: [TarEntry], history: String, packages: [String]? = nil) {
        self.entries = entries
        self.history = history
        self.packages = packages
    }
}
