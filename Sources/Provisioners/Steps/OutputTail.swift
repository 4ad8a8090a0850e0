import Foundation
import Layers
import Synchronization

/// The last lines of a command's output, kept for the error message of a failing step.
final class OutputTail: Sendable {
    private let kept = Mutex<[String]>([])

    func add(_ line: String) {
        kept.withLock { kept in
            kept.append(line)
            if kept.count > 40 { kept.removeFirst(kept.count - 40) }
        }
    }

    var lines: [String] { kept.withLock { $0 } }
}
