/// An error together with what bake was doing when it happened, as SwiftPM's
/// `ErrorWithContext`: the cause is kept as it is (callers can still ask what it was), the
/// context is added in front of its sentence, and the exit status is the cause's unless the
/// context knows better (an unreadable file the user named is bad input).
public struct ErrorWithContext: BakeError {
    /// What was being done, e.g. "images/app/stage.yaml:4:3: step 2 of app failed".
    public let context: String
    /// The error itself.
    public let cause: any Error
    private let status: BakeExitStatus?

    public init(_ context: String, cause: any Error, exitStatus: BakeExitStatus? = nil) {
        self.context = context
        self.cause = cause
        self.status = exitStatus
    }

    public var exitStatus: BakeExitStatus { status ?? BakeExitStatus(for: cause) }

    public var description: String { "\(context): \(cause)" }
}

/// Runs `body`; an error it throws gets `context` added (evaluated only then).
public func withContext<T>(
    _ context: @autoclosure () -> String, exitStatus: BakeExitStatus? = nil, _ body: () throws -> T
) throws -> T {
    do {
        return try body()
    } catch {
        throw ErrorWithContext(context(), cause: error, exitStatus: exitStatus)
    }
}

/// The async form of `withContext`.
public func withContext<T>(
    _ context: @autoclosure () -> String, exitStatus: BakeExitStatus? = nil, _ body: () async throws -> T
) async throws -> T {
    do {
        return try await body()
    } catch {
        throw ErrorWithContext(context(), cause: error, exitStatus: exitStatus)
    }
}
