import Dispatch

/// Slots a parallel loop fills, one per iteration, without a lock: each index is written
/// by exactly one iteration and read after the loop ends. A raw buffer, so that writes to
/// different slots are not exclusive accesses to one Swift array.
final class ResultSlots<Value>: @unchecked Sendable {
    private let buffer: UnsafeMutablePointer<Result<Value, any Error>?>
    private let count: Int

    init(count: Int) {
        self.count = count
        buffer = .allocate(capacity: max(count, 1))
        buffer.initialize(repeating: nil, count: count)
    }

    deinit {
        buffer.deinitialize(count: count)
        buffer.deallocate()
    }

    func set(_ index: Int, _ value: Result<Value, any Error>) {
        buffer[index] = value
    }

    func values() throws -> [Value] {
        try (0..<count).map { index in
            guard let slot = buffer[index] else { throw LayersError.unsupported("a parallel scan left a folder unread") }
            return try slot.get()
        }
    }
}
