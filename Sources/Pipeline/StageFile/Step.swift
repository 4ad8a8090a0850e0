import Provisioners

/// One step of a stage.
public struct Step: Sendable {
    /// 1-based position in the stage.
    public var number: Int
    /// Where the step starts in the stage file.
    public var location: SourceLocation
    /// What the step does: its kind, with the stage file's values.
    public var provisioner: any Provisioner

    public init(number: Int, location: SourceLocation, provisioner: any Provisioner) {
        self.number = number
        self.location = location
        self.provisioner = provisioner
    }

    /// `copy`, `run`...
    public var kind: String { type(of: provisioner).kind }

    /// One line for plans, progress and image history.
    public var summary: String { provisioner.summary }
}
