import Dispatch

/// Work spread over threads, results in order.
public enum Parallel {
    /// `body(0) ... body(count - 1)` on up to `threads` threads; the results in index order.
    /// The first error (by index) is thrown after every iteration has finished.
    public static func map<T>(_ count: Int, threads: Int, _ body: @escaping @Sendable (Int) throws -> T) throws -> [T] {
        let results = ResultSlots<T>(count: count)
        let work: @Sendable (Int) -> Void = { index in results.set(index, Result { try body(index) }) }
        if threads <= 1 || count <= 1 {
            for index in 0..<count { work(index) }
        } else {
            DispatchQueue.concurrentPerform(iterations: count, execute: work)
        }
        return try results.values()
    }
}
