import Layers
import OCI
import Provisioners

/// Something a build tells whoever watches it. Images may build in parallel, so events
/// arrive from several threads; reporters must be thread-safe.
public enum BuildEvent: Sendable {
    /// Another bake process holds the store; this one waits for it.
    case waitingForLock(String)
    /// An image starts.
    case imageStarted(image: String, file: String, base: String, steps: Int)
    /// A step that is not a cache hit starts running.
    case stepStarted(image: String, step: Int, of: Int, summary: String, reason: String)
    /// A step is done, from the cache or built.
    case stepFinished(StepResult)
    /// A line a command printed; `label` is "step 2" or "check 1".
    case output(image: String, label: String, line: String)
    /// A check of a finished image starts running.
    case checkStarted(image: String, check: Int, of: Int, summary: String)
    /// A check is done: it passed or failed (with its command's exit status when it ran to
    /// an end), or it was not run because the same image passed the same checks before.
    case checkFinished(image: String, check: Int, of: Int, result: CheckResult, seconds: Double)
    /// An image is written and named in the store.
    case imageFinished(BuiltImage)
    /// Something the user should know that does not stop the build (an unpacked layer
    /// found changed and unpacked again, a leftover that could not be removed).
    case warning(String)
}

/// How a check went.
public enum CheckResult: Sendable, Hashable {
    case passed
    /// Failed; the command's exit status when it exited (nil: a limit, a bad user...).
    case failed(exitStatus: Int32?)
    /// Not run: the image the store names already passed these checks.
    case cached

    /// `passed`, `failed` or `cached`.
    public var name: String {
        switch self {
        case .passed: return "passed"
        case .failed: return "failed"
        case .cached: return "cached"
        }
    }
}
