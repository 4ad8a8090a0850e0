import Diagnostics

/// A mistake in the user's input that only the build can see: a path missing from the
/// image below, an unknown user, a copy source that is a named pipe, a base that is not
/// what it must be. Bad input: exit 2. The walker adds the stage file's line and the step.
public struct InputError: BakeError {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var exitStatus: BakeExitStatus { .badInput }
    public var description: String { message }
}
