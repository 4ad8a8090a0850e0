import Foundation
import Synchronization

/// Runs one piece of work per image, each after the image it is built on, up to `jobs` at
/// once, each on a thread of its own (layer writing reads and compresses in big buffers,
/// and registry calls wait on the thread). The first failure stops new images from
/// starting; images already running finish.
struct ImageScheduler<Result: Sendable> {
    /// Images in build order, parents first.
    let order: [String]
    let jobs: Int
    /// The image of the pipeline an image is built on, if any.
    let parent: @Sendable (String) -> String?

    private struct State {
        var done: [String: Result] = [:]
        var running: Set<String> = []
        var failure: (any Error)?
    }

    /// The state the image threads and the scheduling loop share, behind its lock.
    private final class Shared: Sendable {
        let state = Mutex(State())
    }

    /// Runs `body(name, parent's result)` for every image; returns the results by name.
    func run(_ body: @escaping @Sendable (String, Result?) throws -> Result) throws -> [String: Result] {
        let shared = Shared()
        let finished = DispatchSemaphore(value: 0)
        while true {
            let (launch, doneBefore): ([(String, Result?)], Int) = shared.state.withLock { state in
                guard state.failure == nil else { return ([], state.done.count) }
                var ready: [(String, Result?)] = []
                for name in order where state.done[name] == nil && !state.running.contains(name) {
                    guard state.running.count + ready.count < jobs else { break }
                    if let parentName = parent(name) {
                        guard let parentResult = state.done[parentName] else { continue }
                        ready.append((name, parentResult))
                    } else {
                        ready.append((name, nil))
                    }
                }
                for (name, _) in ready { state.running.insert(name) }
                return (ready, state.done.count)
            }
            for (name, parentResult) in launch {
                let thread = Thread {
                    let result = Swift.Result { try body(name, parentResult) }
                    shared.state.withLock { state in
                        state.running.remove(name)
                        switch result {
                        case .success(let value): state.done[name] = value
                        case .failure(let error): if state.failure == nil { state.failure = error }
                        }
                    }
                    finished.signal()
                }
                thread.stackSize = 8 << 20
                thread.start()
            }
            let now = shared.state.withLock { $0 }
            let (running, failed, done) = (now.running.count, now.failure != nil, now.done.count)
            if done == order.count && running == 0 { break }
            if running == 0 {
                if failed { break }
                // Whatever was launched, or was running, has already finished: look for what
                // is ready now. Nothing launched, nothing finished since and nothing running
                // would mean an image can never start.
                guard !launch.isEmpty || done != doneBefore else {
                    let waiting = shared.state.withLock { state in order.filter { state.done[$0] == nil } }
                    throw PipelineError.failed("bake could not schedule \(waiting.joined(separator: ", ")); please report this")
                }
                continue
            }
            // A finished image signals; a stale signal only makes the loop look again.
            finished.wait()
        }
        return try shared.state.withLock { state in
            if let failure = state.failure { throw failure }
            return state.done
        }
    }
}
