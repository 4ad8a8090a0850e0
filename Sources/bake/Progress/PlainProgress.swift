import Foundation
import Pipeline
import Synchronization

/// Plain lines on stderr: one when a step starts running, one when any step is done.
final class PlainProgress: ProgressReporter, Sendable {
    /// Lines from images building in parallel are written whole, one at a time.
    private let output = Mutex(())

    func report(_ event: BuildEvent) {
        let line: String?
        switch event {
        case .waitingForLock(let path):
            line = "bake: waiting for another bake process to release the store lock \(path)"
        case .imageStarted(let image, let file, let base, _):
            line = "==> \(image) (\(file)) from \(base)"
        case .stepStarted(let image, let step, let of, let summary, let reason):
            line = "\(image) [\(step)/\(of)] build  \(summary)  (\(reason))"
        case .stepFinished(let result):
            line = ProgressText.step(result)
        case .output(let image, let label, let text):
            line = "\(image) \(label) | \(text)"
        case .checkStarted(let image, let check, let of, let summary):
            line = "\(image) check [\(check)/\(of)] \(summary)"
        case .checkFinished:
            line = nil
        case .imageFinished(let image):
            line = "\(image.name) \(image.manifestDescriptor.digest)"
        case .warning(let message):
            line = "bake: warning: \(message)"
        }
        guard let line else { return }
        output.withLock { _ in Console.standardError(line) }
    }

    func finish(_ images: [BuiltImage], seconds: Double) {
        output.withLock { _ in
            Console.standardError("")
            for line in ProgressText.summary(images, seconds: seconds) { Console.standardError(line) }
            for image in images { print("\(image.name) \(image.manifestDescriptor.digest)") }
        }
    }
}
