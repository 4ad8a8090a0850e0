import Layers

/// The files a step reads and how the stage file names them.
public struct StepInputs: Sendable {
    /// Their listing (names, modes, content digests).
    public var listing: InputListing
    /// The source as the stage file names it (`site/`), to say which file changed.
    public var source: String

    public init(listing: InputListing, source: String) {
        self.listing = listing
        self.source = source
    }
}
