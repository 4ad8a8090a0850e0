import Diagnostics

/// Errors raised while reading or validating OCI documents.
public enum OCIError: BakeError, Sendable, Equatable {
    /// A document bake was given or read that is not what it must be: a failure of what was
    /// read (exit 1); callers that know the user named it add that context.
    public var exitStatus: BakeExitStatus { .failure }

    /// A string that is not `algorithm:hex` with a registered algorithm and the right length.
    case invalidDigest(String)
    /// A JSON document that does not decode as the expected OCI type.
    case invalidDocument(kind: String, reason: String)
    /// A media type that bake does not accept where it appears.
    case unsupportedMediaType(String)
    /// A registry reference that does not follow `host[:port]/path[:tag][@digest]`, and why.
    case invalidReference(String, String)

    public var description: String {
        switch self {
        case .invalidDigest(let text):
            return "'\(text)' is not a valid digest (expected sha256: followed by 64 lowercase hex digits)"
        case .invalidDocument(let kind, let reason):
            return "the \(kind) is not valid OCI JSON: \(reason)"
        case .unsupportedMediaType(let type):
            return "media type '\(type)' is not supported"
        case .invalidReference(let text, let why):
            return "'\(text)' is not a valid image reference: \(why)"
        }
    }
}
