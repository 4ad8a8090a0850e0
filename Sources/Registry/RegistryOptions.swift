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
    /// The longest a small answer may take as a whole, its body included: the probe, a
    /// manifest, a page of tags, a token, a HEAD. A registry that trickles its answer a byte
    /// at a time is given up on after this, naming the request (blobs are bounded by the
    /// transport's read timeout instead: they may be large and slow, but never silent).
    public var smallAnswerDeadline: Duration

    public init(
        insecure: Bool = false, credentials: RegistryCredentials? = nil, retry: RetryPolicy = .standard,
        monolithicLimit: Int64 = 8 << 20, chunkSize: Int64 = 8 << 20, smallAnswerDeadline: Duration = .seconds(60)
    ) {
        self.insecure = insecure
        self.credentials = credentials
        self.retry = retry
        self.monolithicLimit = monolithicLimit
        self.chunkSize = chunkSize
        self.smallAnswerDeadline = smallAnswerDeadline
    }
}
