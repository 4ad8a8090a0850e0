import Layers

/// A step kind: what a step of a stage file does to the image below it. Each kind is one
/// file of this folder (copy, remove, run, apt) and one entry of the stage-file parser's
/// table; the walker in Pipeline keys, caches and applies every kind the same way.
///
/// A kind says what goes into its cache key (its canonical `spec`, the digest of the files
/// it reads, whether it has the network, the ids of its secrets) and how it applies itself
/// to a `StepContext`: it writes its layer to `context.layer` and returns a `StepOutcome`.
public protocol Provisioner: Sendable {
    /// The kind's key in the stage file (`copy`).
    static var kind: String { get }

    /// One line for plans, progress and the build record, made from the step's meaning
    /// only (never from its formatting), so it is safe to put into an image.
    var summary: String { get }

    /// The step's meaning, normalised, as it enters the cache key and the build record.
    var spec: StepSpec { get }

    /// Whether the step reaches the network (part of the key).
    var network: Bool { get }

    /// The ids of the secrets the step mounts (part of the key; values never are).
    var secretIDs: [String] { get }

    /// The memory and processes its command asks for (`limits:`; never in the key).
    var limits: ResourceLimits { get }

    /// The files of the build context the step reads, as a listing whose digest enters the
    /// key; nil for a step that reads none.
    func inputs(_ context: InputContext) throws -> StepInputs?

    /// Applies the step on the image below: writes its layer's entries to `context.layer`
    /// and says what it did.
    func apply(_ context: StepContext) throws -> StepOutcome
}

extension Provisioner {
    public var network: Bool { false }
    public var secretIDs: [String] { [] }
    public var limits: ResourceLimits { ResourceLimits() }
    public func inputs(_ context: InputContext) throws -> StepInputs? { nil }
}
