import Diagnostics
import Layers
import OCI
import Provisioners

/// One step (or step 0, a base's layer) as the walker left it.
struct WalkedStep {
    enum Status {
        /// Taken from the cache.
        case hit
        /// Not in the cache, and made.
        case built(MissReason)
        /// Not in the cache; a plan says it would be built, for this reason.
        case planned(MissReason)
        /// Waiting for something before it (a plan).
        case blocked(String)
    }

    /// 0 for a base's layer.
    var number: Int
    var summary: String
    /// The step (nil for a base's layer).
    var step: Step?
    var status: Status
    var evaluation: StepEvaluation?
    var layer: LayerBlob?
    var packages: [String]?
    var seconds: Double = 0

    init(step: Step, status: Status, evaluation: StepEvaluation? = nil, layer: LayerBlob? = nil, packages: [String]? = nil,
         seconds: Double = 0) {
        self.number = step.number
        self.summary = step.summary
        self.step = step
        self.status = status
        self.evaluation = evaluation
        self.layer = layer
        self.packages = packages
        self.seconds = seconds
    }

    /// The layer of `stage`'s base.
    init(base stage: Stage, status: Status, evaluation: StepEvaluation? = nil, layer: LayerBlob? = nil, seconds: Double = 0) {
        self.number = 0
        self.summary = "from \(stage.base)"
        self.step = nil
        self.status = status
        self.evaluation = evaluation
        self.layer = layer
        self.seconds = seconds
    }
}
