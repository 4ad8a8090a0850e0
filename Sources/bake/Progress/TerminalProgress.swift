import Foundation
import Pipeline

/// On a terminal: a live line per running step with its elapsed time, redrawn every tenth
/// of a second; finished steps scroll above them.
final class TerminalProgress: ProgressReporter, @unchecked Sendable {
    private let lock = NSLock()
    private var running: [(key: String, text: String, started: ContinuousClock.Instant)] = []
    private var drawn = 0
    private var ticker: Thread?
    private var stopped = false

    init() {
        let thread = Thread { [weak self] in
            while let self, !self.isStopped {
                self.redraw(permanent: [])
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
        ticker = thread
        thread.start()
    }

    private var isStopped: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopped
    }

    func report(_ event: BuildEvent) {
        switch event {
        case .waitingForLock(let path):
            redraw(permanent: ["bake: waiting for another bake process to release the store lock \(path)"])
        case .imageStarted(let image, let file, let base, _):
            redraw(permanent: ["==> \(image) (\(file)) from \(base)"])
        case .stepStarted(let image, let step, let of, let summary, let reason):
            lock.lock()
            running.append(("\(image)/\(step)", "\(image) [\(step)/\(of)] \(summary)  (\(reason))", .now))
            lock.unlock()
            redraw(permanent: [])
        case .stepFinished(let result):
            lock.lock()
            running.removeAll { $0.key == "\(result.image)/\(result.step)" }
            lock.unlock()
            redraw(permanent: [ProgressText.step(result)])
        case .output(let image, let label, let text):
            redraw(permanent: ["\(image) \(label) | \(text)"])
        case .checkStarted(let image, let check, let of, let summary):
            redraw(permanent: ["\(image) check [\(check)/\(of)] \(summary)"])
        case .imageFinished:
            break
        case .warning(let message):
            redraw(permanent: ["bake: warning: \(message)"])
        }
    }

    /// Erases the live lines, prints `permanent`, then draws the live lines again.
    private func redraw(permanent: [String]) {
        lock.lock()
        defer { lock.unlock() }
        var out = ""
        if drawn > 0 { out += "\u{1B}[\(drawn)A\u{1B}[J" }
        for line in permanent { out += line + "\n" }
        let width = terminalWidth()
        for entry in running {
            let elapsed = ProgressText.seconds(Self.seconds(since: entry.started))
            var line = "  \u{25B8} \(entry.text) \(elapsed)"
            if line.count > width { line = String(line.prefix(max(10, width - 1))) }
            out += line + "\n"
        }
        drawn = running.count
        FileHandle.standardError.write(Data(out.utf8))
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
        lock.lock()
        stopped = true
        running = []
        lock.unlock()
        redraw(permanent: [""] + ProgressText.summary(images, seconds: seconds))
        for image in images { print("\(image.name) \(image.manifestDescriptor.digest)") }
    }

    func stop() {
        lock.lock()
        stopped = true
        running = []
        lock.unlock()
        redraw(permanent: [])
    }

    deinit {
        stopped = true
    }
}
