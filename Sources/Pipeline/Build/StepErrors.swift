import Diagnostics
import Layers
import Provisioners

/// How an error of a step becomes one that names the stage file's line, the image and the
/// step, keeping its cause: the one place for it, for keys, layers and commands alike.
enum StepErrors {
    /// Runs `body` for `step` of `stage`; an error it throws gets the step's context.
    static func mapping<T>(_ step: Step, of stage: Stage, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            throw map(error, what: "step \(step.number)", image: stage.name, location: step.location)
        }
    }

    /// `error` of `what` (`step 2`, `check 1`) of `image`, at `location`.
    static func map(_ error: any Error, what: String, image: String, location: SourceLocation) -> any Error {
        switch error {
        case let input as InputError:
            return PipelineError.stepInput(image: image, what: what, location: location, message: input.message)
        case ProvisionersError.commandFailed(let status, let output):
            return PipelineError.commandFailed(image: image, what: what, location: location, status: status, output: output)
        case ProvisionersError.limitReached(let hit):
            return PipelineError.limitReached(image: image, what: what, location: location, limit: hit)
        case ProvisionersError.interrupted, ProvisionersError.unusableFileSystem, is PipelineError:
            // Not about the step: an interrupt, or a store overlayfs cannot use.
            return error
        default:
            return PipelineError.stepFailed(image: image, what: what, location: location, cause: error)
        }
    }
}
