import Foundation

/// Bounded exponential backoff.
public struct RetryPolicy: Sendable {
    /// Attempts in all, the first included.
    public var attempts: Int
    /// The wait before the first retry; doubled for each further retry.
    public var initialDelay: Double
    /// The longest wait between two attempts of bake's own choosing.
    public var maximumDelay: Double
    /// The longest wait a registry's `Retry-After` may ask for (rate limits ask for more than
    /// a transient failure needs).
    public var maximumRetryAfter: Double

    public init(attempts: Int, initialDelay: Double, maximumDelay: Double, maximumRetryAfter: Double = 60) {
        self.attempts = attempts
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.maximumRetryAfter = maximumRetryAfter
    }

    /// 6 attempts, 0.25 s doubling up to 4 s: about 10 s of trying in all, unless the
    /// registry asks for longer with Retry-After (up to 60 s a wait).
    public static let standard = RetryPolicy(attempts: 6, initialDelay: 0.25, maximumDelay: 4)

    /// The wait before retry number `retry` (1-based): the registry's Retry-After (seconds)
    /// up to `maximumRetryAfter`, else bake's backoff.
    func delay(retry: Int, retryAfter: String?) -> Double {
        if let retryAfter, let seconds = Double(retryAfter.trimmingCharacters(in: .whitespaces)), seconds >= 0 {
            return min(seconds, maximumRetryAfter)
        }
        return min(initialDelay * pow(2, Double(retry - 1)), maximumDelay)
    }
}
