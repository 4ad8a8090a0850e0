import Diagnostics
import OCI

/// What went wrong talking to a registry, as one sentence naming the registry, repository,
/// blob or manifest. The underlying error, if any, is kept as `cause` text.
public enum RegistryError: BakeError, Sendable {
    /// Nothing answered at `host`, or the connection kept failing after every retry.
    case unreachable(host: String, cause: String)
    /// The registry's TLS certificate is not trusted (self-signed, expired, wrong name).
    case untrustedCertificate(host: String, cause: String)
    /// The registry refused the credentials, or wants credentials bake does not have.
    case unauthorized(host: String, repository: String, detail: String, credentialsGiven: Bool)
    /// The registry knows the user but does not allow the operation.
    case denied(host: String, repository: String, detail: String)
    /// The repository does not exist in the registry.
    case unknownRepository(host: String, repository: String)
    /// The tag or digest does not exist in the repository.
    case unknownManifest(reference: String)
    /// Bytes the registry sent, or the digest it reported, differ from the digest expected.
    case digestMismatch(host: String, what: String, expected: Digest, actual: String)
    /// The registry kept answering 429 or 5xx after every retry.
    case unavailable(host: String, operation: String, status: Int, detail: String)
    /// A status the protocol does not allow at this point, with the registry's error text.
    case unexpectedStatus(host: String, operation: String, status: Int, detail: String)
    /// An answer that does not follow the distribution spec.
    case invalidResponse(host: String, operation: String, detail: String)
    /// The repository has no such blob.
    case unknownBlob(host: String, repository: String, digest: Digest)
    /// A local file bake reads from or writes to failed.
    case localFile(path: String, cause: String)
    /// Credentials that cannot be used as given (`--creds` without a colon, a bad docker config).
    case invalidCredentials(String)

    public var exitStatus: BakeExitStatus {
        switch self {
        case .invalidCredentials: return .badInput
        default: return .failure
        }
    }

    public var description: String {
        switch self {
        case .unreachable(let host, let cause):
            return "the registry \(host) is not reachable: \(cause)"
        case .untrustedCertificate(let host, let cause):
            return "the TLS certificate of the registry \(host) is not trusted (\(cause)); to accept it (or plain HTTP), "
                + "push and retag take --insecure, and builds --insecure-registry \(host)"
        case .unauthorized(let host, let repository, let detail, let credentialsGiven):
            return "unauthorized: the registry \(host) refused access to \(repository)"
                + (detail.isEmpty ? "" : " (\(detail))")
                + (credentialsGiven
                    ? "; check the credentials and that they may read or write \(repository)"
                    : "; no credentials were found for \(host): set BAKE_REGISTRY_USER/BAKE_REGISTRY_PASSWORD, add it to ~/.docker/config.json, or pass --creds USER:PASS to push and retag")
        case .denied(let host, let repository, let detail):
            return "denied: the registry \(host) does not allow this on \(repository)" + (detail.isEmpty ? "" : " (\(detail))")
        case .unknownRepository(let host, let repository):
            return "the registry \(host) has no repository \(repository)"
        case .unknownManifest(let reference):
            return "\(reference) does not exist in its registry"
        case .digestMismatch(let host, let what, let expected, let actual):
            return "the registry \(host) gave \(what) as \(actual), not \(expected); refusing it"
        case .unavailable(let host, let operation, let status, let detail):
            return "the registry \(host) kept answering \(status) to \(operation), through every retry" + (detail.isEmpty ? "" : " (\(detail))")
        case .unexpectedStatus(let host, let operation, let status, let detail):
            return "the registry \(host) answered \(status) to \(operation)" + (detail.isEmpty ? "" : ": \(detail)")
        case .invalidResponse(let host, let operation, let detail):
            return "the registry \(host) sent an invalid answer to \(operation): \(detail)"
        case .unknownBlob(let host, let repository, let digest):
            return "the registry \(host) has no blob \(digest) in \(repository)"
        case .localFile(let path, let cause):
            return "cannot write \(path): \(cause)"
        case .invalidCredentials(let detail):
            return detail
        }
    }
}
