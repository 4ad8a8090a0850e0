/// One row of the table.
public struct VolatileFile: Sendable, Hashable {
    public let pattern: String
    /// What the normaliser does to such a file; nil: it leaves it, verify names the cause.
    public let action: Normaliser.Action?
    /// Why the file varies and how to stop it.
    public let cause: KnownCause

    init(_ pattern: String, _ action: Normaliser.Action?, _ cause: KnownCause) {
        self.pattern = pattern
        self.action = action
        self.cause = cause
    }

    /// Why the file varies (the README's and verify's words).
    public var reason: String { cause.name }
    /// How to make it the same every time.
    public var fix: String { cause.fix }
}
