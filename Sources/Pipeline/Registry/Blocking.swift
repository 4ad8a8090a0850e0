import Dispatch
import Synchronization

/// Runs async registry work from bake's synchronous pipeline: the calling thread waits while
/// the work runs on the concurrency pool. Errors are passed on as they are, cause and all.
enum Blocking {
    /// Where the work leaves its result for the waiting thread.
    private final class Outcome<T: Sendable>: Sendable {
        let result = Mutex<Result<T, any Error>?>(nil)
    }

    /// Must be called from a thread of bake's own (the main thread, a build thread), never
    /// from the concurrency pool, which it would block.
    static func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let outcome = Outcome<T>()
        let done = DispatchSemaphore(value: 0)
        Task {
            let result: Result<T, any Error>
            do {
                result = .success(try await body())
            } catch {
                result = .failure(error)
            }
            outcome.result.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        return try outcome.result.withLock { $0! }.get()
    }
}
