import Diagnostics
import Layers
import OCI
import Provisioners

/// How a plan (and `bake why`) treats a miss: it says the step would be built, and why,
/// and stops there; nothing is written.
struct PlanningHandler: MissHandler {
    var remembers: Bool { false }
    var imports: Bool { false }

    func finished(_ walked: WalkedStep, of stage: Stage) {}

    func step(_ step: Step, of stage: Stage, evaluation: StepEvaluation, reason: MissReason, image: ImageSoFar) throws -> MadeLayer? {
        nil
    }

    func baseLayer(
        _ recipe: BaseLayerRecipe, label: String, of stage: Stage, evaluation: StepEvaluation, reason: MissReason
    ) throws -> MadeLayer? {
        nil
    }
}
