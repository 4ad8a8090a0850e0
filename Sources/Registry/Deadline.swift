/// Runs `body`, giving up after `limit`: the body is cancelled and `timedOut()` thrown. For
/// the small answers of a registry (a manifest, a tag list, a token), which must not keep a
/// build waiting however slowly a registry trickles them; the transport's read timeout only
/// bounds the silence between two bytes.
func withDeadline<T: Sendable>(
    _ limit: Duration, timedOut: @escaping @Sendable () -> any Error, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        // The first to finish decides: the answer, or the deadline (nil).
        guard let first = try await group.next(), let value = first else { throw timedOut() }
        return value
    }
}
