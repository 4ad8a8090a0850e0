import Layers
import OCI

/// The image below a step: its layers and their merged tree, and its config so far.
public struct ImageBelow {
    /// The layers, bottom first.
    public var stack: LayerStack
    /// What the layers hold, merged.
    public var tree: ImageFilesystem
    /// The container config so far (a run step starts with its environment).
    public var config: ContainerConfig?

    public init(stack: LayerStack, tree: ImageFilesystem, config: ContainerConfig?) {
        self.stack = stack
        self.tree = tree
        self.config = config
    }
}
