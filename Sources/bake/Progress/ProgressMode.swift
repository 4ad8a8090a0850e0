import ArgumentParser
import Glibc
import Pipeline

/// How a build shows its progress (`--progress`).
enum ProgressMode: String, ExpressibleByArgument, CaseIterable, Sendable {
    /// Live lines on a terminal, plain lines otherwise.
    case auto
    /// One line per step, for CI logs.
    case plain
    /// One JSON object per line on stdout, for tools.
    case json

    /// The reporter for this mode.
    func reporter() -> ProgressReporter {
        switch self {
        case .json: return JSONProgress()
        case .plain: return PlainProgress()
        case .auto: return isatty(2) == 1 ? TerminalProgress() : PlainProgress()
        }
    }
}

extension ProgressReporter {
    func stop() {}
    /// Plain and terminal progress leave the error to bake's one line on stderr.
    func failed(_ error: any Error) {}
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var copy = self
        while copy.last == " " { copy.removeLast() }
        return copy
    }
}
