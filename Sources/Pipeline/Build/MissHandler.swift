import Diagnostics
import Layers
import OCI
import Provisioners

/// What the walker does with a step, or a base's layer, that the cache does not have.
protocol MissHandler {
    /// Builds save the stat cache and repair cache entries; plans write nothing.
    var remembers: Bool { get }
    /// Bases may download and import (a build); a plan stays off the network where it can.
    var imports: Bool { get }

    /// Makes the layer of `step`, or returns nil to stop the walk there (a plan).
    func step(_ step: Step, of stage: Stage, evaluation: StepEvaluation, reason: MissReason, image: ImageSoFar) throws -> MadeLayer?

    /// A step (or a base's layer) is done: from the cache, or made.
    func finished(_ walked: WalkedStep, of stage: Stage)

    /// Makes a base's layer (`label`: its kind, for output lines), or returns nil.
    func baseLayer(
        _ recipe: BaseLayerRecipe, label: String, of stage: Stage, evaluation: StepEvaluation, reason: MissReason
    ) throws -> MadeLayer?
}

/// A layer a step or base made.
struct MadeLayer {
    var layer: LayerBlob
    var history: String
    /// Its entries, to keep the image tree up to date (nil: not at hand).
    var entries: [TarEntry]?
    var packages: [String]?
}
