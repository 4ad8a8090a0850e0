import Glibc

/// The settings of the terminal bake runs on (echo, canonical mode, ...), saved before a
/// command that shares the terminal runs (`bake run`) and put back after it, so that a
/// command's `stty raw -echo` does not outlive it, however it ended.
public struct TerminalSettings {
    let fd: Int32
    let settings: termios

    /// The settings of the first of stdin, stdout and stderr that is a terminal, or nil.
    public static func save() -> TerminalSettings? {
        for fd: Int32 in [0, 1, 2] where isatty(fd) == 1 {
            var settings = termios()
            if tcgetattr(fd, &settings) == 0 { return TerminalSettings(fd: fd, settings: settings) }
        }
        return nil
    }

    /// Puts the saved settings back (once pending output is written).
    public func restore() {
        // Even from a background process group: no SIGTTOU stopping bake on the way out.
        let previous = signal(SIGTTOU, SIG_IGN)
        var settings = self.settings
        _ = tcsetattr(fd, TCSADRAIN, &settings)
        signal(SIGTTOU, previous)
    }
}
