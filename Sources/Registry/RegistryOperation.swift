import NIOHTTP1

/// One request of the distribution protocol as the client means it: what to send, the
/// repositories it touches (for token scopes), whether it may be retried, and a description
/// for errors. `RegistryClient.send` turns it into transport requests (auth, retries).
struct RegistryOperation: Sendable {
    var method: HTTPMethod
    /// A path starting with `/v2/`, or an absolute URL the registry gave (a Location, a Link).
    var url: String
    var headers: [(String, String)] = []
    var body: RequestBody?
    /// `repository:NAME:ACTIONS` scopes the request needs.
    var scopes: [String]
    /// `push of blob sha256:...`, for error messages.
    var what: String
    /// Retry on 429, 5xx and dropped connections; off for requests whose retry the caller
    /// handles (a chunk of an upload).
    var retries = true
    /// Wait this long at most for the whole exchange (for a small answer, its body included).
    var deadline: Duration = .seconds(3600)
    /// A small answer: its body is read in full, up to this many bytes, within `deadline`.
    var bodyLimit: Int?
}
