/// How a client talks to one registry.
public struct RegistryOptions: Sendable {
    /// Accept plain HTTP and certificates that do not verify (`--insecure`).
    public var insecure: Bool
    /// Credentials for basic auth and token servers; nil: anonymous.
    public var credentials: RegistryCredentials?
    /// Retries for 429, 5xx and dropped connections.
    public var retry: RetryPolicy
    /// Blobs up to this size go up in one request; larger ones in chunks.
    public var monolithicLimit: Int64
    /// The size of each chunk of a chunked upload (raised to the registry's minimum).
    public var chunkSize: Int64

    public init(
        insecure: Bool = false, credentials: RegistryCredentials? = nil, retry: RetryPolicy = .standard,
        monolithicLimit: Int64 = 8 << 20, chunkSize: Int64 = 8 << 20
    ) {
        self.insecure = insecure
        self.credentials = credentials
        self.retry = retry
        self.monolithicLimit = monolithicLimit
        self.chunkSize = chunkSize
    }
}
