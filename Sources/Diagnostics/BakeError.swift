/// An error of bake's own: one sentence a user understands (naming the file, line, step,
/// blob or registry it is about) and the exit status it ends bake with. Every module's
/// error enum conforms, so the command line catches once and never guesses.
public protocol BakeError: Error, CustomStringConvertible {
    /// How bake exits when this error ends it.
    var exitStatus: BakeExitStatus { get }
}

extension Error {
    /// This error and the causes under it, outermost first.
    public var causes: [any Error] {
        var chain: [any Error] = [self]
        while let context = chain.last as? ErrorWithContext { chain.append(context.cause) }
        return chain
    }

    /// The innermost cause: the error that started it all.
    public var rootCause: any Error { causes.last! }

    /// True when this error, or a cause under it, is an `E` that satisfies `predicate`.
    public func has<E: Error>(_ type: E.Type, where predicate: (E) -> Bool = { _ in true }) -> Bool {
        causes.contains { ($0 as? E).map(predicate) ?? false }
    }
}
