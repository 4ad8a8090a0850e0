import Glibc

/// Signal names as image configs write them (`StopSignal`: "SIGQUIT", "QUIT", "3",
/// "SIGRTMIN+3"), and their numbers on Linux.
public enum SignalName {
    static let numbers: [String: Int32] = [
        "HUP": SIGHUP, "INT": SIGINT, "QUIT": SIGQUIT, "ILL": SIGILL, "TRAP": SIGTRAP, "ABRT": SIGABRT,
        "IOT": SIGABRT, "BUS": SIGBUS, "FPE": SIGFPE, "KILL": SIGKILL, "USR1": SIGUSR1, "SEGV": SIGSEGV,
        "USR2": SIGUSR2, "PIPE": SIGPIPE, "ALRM": SIGALRM, "TERM": SIGTERM, "STKFLT": SIGSTKFLT,
        "CHLD": SIGCHLD, "CLD": SIGCHLD, "CONT": SIGCONT, "STOP": SIGSTOP, "TSTP": SIGTSTP, "TTIN": SIGTTIN,
        "TTOU": SIGTTOU, "URG": SIGURG, "XCPU": SIGXCPU, "XFSZ": SIGXFSZ, "VTALRM": SIGVTALRM,
        "PROF": SIGPROF, "WINCH": SIGWINCH, "IO": SIGIO, "POLL": SIGIO, "PWR": SIGPWR, "SYS": SIGSYS,
    ]

    /// The number of `text` (case-insensitive, with or without "SIG"), or nil.
    public static func number(_ text: String) -> Int32? {
        if let number = Int32(text) { return (1...64).contains(number) ? number : nil }
        let upper = text.uppercased()
        let name = upper.hasPrefix("SIG") ? String(upper.dropFirst(3)) : upper
        if let number = numbers[name] { return number }
        // Real-time signals as glibc numbers them (it keeps the first two for itself), the
        // numbers Docker and podman use too.
        let low = __libc_current_sigrtmin(), high = __libc_current_sigrtmax()
        if name == "RTMIN" { return low }
        if name == "RTMAX" { return high }
        if name.hasPrefix("RTMIN+"), let offset = Int32(name.dropFirst(6)), offset >= 0, low + offset <= high { return low + offset }
        if name.hasPrefix("RTMAX-"), let offset = Int32(name.dropFirst(6)), offset >= 0, high - offset >= low { return high - offset }
        return nil
    }
}
