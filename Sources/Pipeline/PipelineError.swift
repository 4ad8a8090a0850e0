import Diagnostics
import Layers
import Provisioners

/// Errors of the pipeline. Each describes itself as one sentence naming the file, line,
/// step or blob it is about; `isBadInput` tells the command line which exit code to use.
public enum PipelineError: BakeError, Sendable {
    /// Stage files that do not validate (all problems found, in file order).
    case invalidStageFiles([Diagnostic])
    /// A usage or input problem outside stage files (unknown image, bad environment variable).
    case badInput(String)
    /// A step (`what`: "step 2") that could not run to completion, and why.
    case stepFailed(image: String, what: String, location: SourceLocation, cause: any Error)
    /// A step or check whose inputs are wrong in a way only the build can see (a missing
    /// path, an unknown user).
    case stepInput(image: String, what: String, location: SourceLocation, message: String)
    /// A step's or check's command exited with a non-zero status.
    case commandFailed(image: String, what: String, location: SourceLocation, status: Int32, output: [String])
    /// A step's or check's command ran into its memory or process limit.
    case limitReached(image: String, what: String, location: SourceLocation, limit: LimitHit)
    /// Something that is not the user's input failed (the store, the file system).
    case failed(String)
    /// `--locked`: an image came out different from bake.lock.
    case lockMismatch(image: String, differences: [String])

    /// The image and the step or check ("step 2", "check 1") the error is about, if any.
    public var subject: (image: String, what: String)? {
        switch self {
        case .stepFailed(let image, let what, _, _), .stepInput(let image, let what, _, _),
             .commandFailed(let image, let what, _, _, _), .limitReached(let image, let what, _, _):
            return (image, what)
        case .lockMismatch(let image, _):
            return (image, "")
        case .invalidStageFiles, .badInput, .failed:
            return nil
        }
    }

    /// The exit status of the command a step or check ran, when that is what failed.
    public var commandExitStatus: Int32? {
        if case .commandFailed(_, _, _, let status, _) = self { return status }
        return nil
    }

    /// True when the user's input is at fault: exit code 2.
    public var isBadInput: Bool { exitStatus == .badInput }

    public var exitStatus: BakeExitStatus {
        switch self {
        case .invalidStageFiles, .badInput, .stepInput: return .badInput
        case .stepFailed, .commandFailed, .limitReached, .failed, .lockMismatch: return .failure
        }
    }

    public var description: String {
        switch self {
        case .invalidStageFiles(let diagnostics):
            return diagnostics.map(\.description).joined(separator: "\n")
        case .badInput(let message), .failed(let message):
            return message
        case .stepFailed(let image, let what, let location, let cause):
            return "\(location): \(what) of \(image) failed: \(cause)"
        case .stepInput(let image, let what, let location, let message):
            return "\(location): \(what) of \(image): \(message)"
        case .lockMismatch(let image, let differences):
            var text = "\(image) differs from bake.lock (--locked): \(differences.first ?? "")"
            for more in differences.dropFirst().prefix(20) { text += "\n  \(more)" }
            return text + "\nbuild without --locked to accept the new result into bake.lock, or run 'bake verify \(image)' to find the cause"
        case .limitReached(let image, let what, let location, let limit):
            return "\(location): \(what) of \(image) \(limit)"
        case .commandFailed(let image, let what, let location, let status, let output):
            return "\(location): \(what) of \(image) failed: \(ProvisionersError.commandFailed(status: status, output: output))"
        }
    }
}
