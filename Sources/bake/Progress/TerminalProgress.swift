import Foundation
import Pipeline
import Synchronization

/// On a terminal: a live line per running step with its elapsed time, redrawn every tenth
/// of a second; finished steps scroll above them.
final class TerminalProgress: ProgressReporter, Sendable {
    /// A step running now, as its live line shows it.
    private struct Running {
        var key: String
        var text: String
        var started: ContinuousClock.Instant
    }

    private struct State {
        var running: [Running] = []
        /// Live lines on the screen, to erase before the next draw.
        var drawn = 0
        var stopped = false
    }

    private let state = Mutex(State())

    init() {
        let thread = Thread { [weak self] in
            while let self, !self.isStopped {
                self.redraw(permanent: [])
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
        thread.start()
    }

    private var isStopped: Bool { state.withLock { $0.stopped } }

    func report(_ event: BuildEvent) {
        switch event {
        case .waitingForLock(let path):
            redraw(permanent: ["bake: waiting for another bake process to release the store lock \(path)"])
        case .imageStarted(let image, let file, let base, _):
            redraw(permanent: ["==> \(image) (\(file)) from \(base)"])
        case .stepStarted(let image, let step, let of, let summary, let reason):
            state.withLock { $0.running.append(Running(key: "\(image)/\(step)", text: "\(image) [\(step)/\(of)] \(summary)  (\(reason))", started: .now)) }
            redraw(permanent: [])
        case .stepFinished(let result):
            state.withLock { $0.running.removeAll { $0.key == "\(result.image)/\(result.step)" } }
            redraw(permanent: [ProgressText.step(result)])
        case .output(let image, let label, let text):
            redraw(permanent: ["\(image) \(label) | \(text)"])
        case .checkStarted(let image, let check, let of, let summary):
            redraw(permanent: ["\(image) check [\(check)/\(of)] \(summary)"])
        case .imageFinished, .checkFinished:
            break
        case .warning(let message):
            redraw(permanent: ["bake: warning: \(message)"])
        }
    }

    /// Erases the live lines, prints `permanent`, then draws the live lines again.
    private func redraw(permanent: [String]) {
        let width = terminalWidth()
        state.withLock { state in
            var out = ""
            if state.drawn > 0 { out += "\u{1B}[\(state.drawn)A\u{1B}[J" }
            for line in permanent { out += line + "\n" }
            for entry in state.running {
                let elapsed = ProgressText.seconds(Self.seconds(since: entry.started))
                var line = "  \u{25B8} \(entry.text) \(elapsed)"
                if line.count > width { line = String(line.prefix(max(10, width - 1))) }
                out += line + "\n"
            }
            state.drawn = state.running.count
            FileHandle.standardError.write(Data(out.utf8))
        }
    }

    private func terminalWidth() -> Int {
        var size = winsize()
        return ioctl(2, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 0 ? Int(size.ws_col) : 100
    }

    private static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = (ContinuousClock.now - start).components
        return Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
    }

    func finish(_ images: [BuiltImage], seconds: Double) {
        state.withLock { state in
            state.stopped = true
            state.running = []
        }
        redraw(permanent: [""] + ProgressText.summary(images, seconds: seconds))
        for image in images { print("\(image.name) \(image.manifestDescriptor.digest)") }
    }

    func stop() {
        state.withLock { state in
            state.stopped = true
            state.running = []
        }
        redraw(permanent: [])
    }
}
