import Layers
import OCI

/// Everything a step sees while it applies itself, as one value: the image below it, the
/// build time, where its layer goes, how it reaches a machine, the image's users, its
/// secrets and where its output lines go.
public struct StepContext {
    /// The image being built (for messages and output).
    public var image: String
    /// `step 2`, for output lines.
    public var label: String
    /// The image's folder.
    public var buildContext: BuildContext
    /// The image as it is below this step.
    public var below: ImageBelow
    /// The build time: written into the layer, never exceeded by a file time.
    public var epoch: Int64
    /// Where the step writes its layer's entries.
    public var layer: TarWriter
    /// How the step gets a machine on the image below (run and apt steps).
    public var machines: any MachineFactory
    /// The users and groups of the image below.
    public var users: ImageUsers
    /// Secret values by id; a step sees only the ones it lists.
    public var secrets: [String: [UInt8]]
    /// Receives each line a command printed (secret values masked).
    public var output: @Sendable (String) -> Void

    public init(
        image: String, label: String, buildContext: BuildContext, below: ImageBelow, epoch: Int64, layer: TarWriter,
        machines: any MachineFactory, users: ImageUsers
    ) {
        self.image = image
        self.label = label
        self.buildContext = buildContext
        self.below = below
        self.epoch = epoch
        self.layer = layer
        self.machines = machines
        self.users = users
        self.secrets = [:]
        self.output = { _ in }
    }
}
