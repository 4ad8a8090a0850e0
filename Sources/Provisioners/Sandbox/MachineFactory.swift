import Layers
import OCI

/// Makes machines: each starts from an image's layers, with nothing changed yet.
public protocol MachineFactory: Sendable {
    /// A new machine whose root is the image made of `layers` (bottom first).
    func machine(on layers: LayerStack) throws -> any Machine
}
