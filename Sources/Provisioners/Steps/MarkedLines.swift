import Synchronization

/// Lines a command printed after a marker line (how an apt step reports package versions).
final class MarkedLines: Sendable {
    private struct State {
        var seen = false
        var collected: [String] = []
    }

    private let marker: String
    private let state = Mutex(State())

    init(after marker: String) {
        self.marker = marker
    }

    func add(_ line: String) {
        state.withLock { state in
            if state.seen {
                if !line.isEmpty { state.collected.append(line) }
            } else if line == marker {
                state.seen = true
            }
        }
    }

    var lines: [String] { state.withLock { $0.collected } }
}
