import Diagnostics
import Layers
import OCI
import Provisioners

/// One image as the walker left it.
struct WalkedImage {
    let stage: Stage
    /// The image's last build, if any.
    let previous: BuildRecord?
    /// What its first step runs on; nil when a plan cannot know yet.
    var base: ImageBase?
    /// The layer of a Debian or rootfs base, or a registry base a plan cannot import yet.
    var baseLayer: WalkedStep?
    /// bake.lock's pins of an external base (empty for another image of the pipeline).
    var pins: [String: String] = [:]
    var steps: [WalkedStep] = []
    /// The config and manifest, when every layer is known.
    var assembled: AssembledImage?

    init(stage: Stage, previous: BuildRecord?) {
        self.stage = stage
        self.previous = previous
    }

    mutating func block(_ steps: [Step], _ reason: String) {
        self.steps = steps.map { WalkedStep(step: $0, status: .blocked(reason)) }
    }
}
