import Diagnostics
import Glibc
import OCI

/// What went wrong talking to a registry, as one sentence naming the registry, repository,
/// blob or manifest. The underlying error, if any, is kept as `cause` (a `TransportError`,
/// which keeps the HTTP library's own error), so callers can still ask what it was.
public enum RegistryError: BakeError, Sendable {
    /// Nothing answered at `host`, or the connection kept failing after every retry;
    /// `operation` is what was being done (nil: reaching the registry at all).
    case unreachable(host: String, operation: String?, cause: any Error)
    /// The registry's TLS certificate is not trusted (self-signed, expired, wrong name).
    case untrustedCertificate(host: String, cause: any Error)
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
    /// A local file bake reads from (a blob being sent) or writes to (a blob being pulled) failed.
    case localFile(operation: String, path: String, errno: Int32)
    /// Credentials that cannot be used as given (`--creds` without a colon, a bad docker config).
    case invalidCredentials(String)
    /// A small answer (a manifest, a tag list, a token) did not arrive in full within `after`.
    case timedOut(host: String, operation: String, after: Duration)
    /// The registry answers plain HTTP, and bake was not allowed to use it.
    case plainHTTP(host: String)
    /// The registry named a token server on plain HTTP, which would receive the credentials in
    /// clear text; refused unless the registry itself is used with --insecure.
    case insecureRealm(host: String, realm: String)

    public var exitStatus: BakeExitStatus {
        switch self {
        case .invalidCredentials: return .badInput
        default: return .failure
        }
    }

    /// `60 s`, `1.5 s`.
    private static func seconds(_ duration: Duration) -> String {
        let parts = duration.components
        let value = Double(parts.seconds) + Double(parts.attoseconds) / 1e18
        return value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
    }

    public var description: String {
        switch self {
        case .unreachable(let host, let operation, let cause):
            return "the registry \(host) is not reachable: " + (operation.map { "\($0): " } ?? "") + "\(cause)"
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
        case .localFile(let operation, let path, let code):
            return "cannot \(operation) \(path): \(String(cString: strerror(code)))"
        case .invalidCredentials(let detail):
            return detail
        case .timedOut(let host, let operation, let after):
            return "the registry \(host) did not finish the \(operation) within \(Self.seconds(after))"
        case .plainHTTP(let host):
            return "the registry \(host) answered in plain HTTP; pass --insecure (or --insecure-registry \(host)) to use it"
        case .insecureRealm(let host, let realm):
            return "the registry \(host) sent bake to the token server \(realm), which is plain HTTP and would receive the credentials "
                + "in clear text; refusing it (a registry used with --insecure, or --insecure-registry \(host), may do this)"
        }
    }
}
