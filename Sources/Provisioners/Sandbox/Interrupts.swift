import CSandbox
import Glibc

/// Ctrl-C and SIGTERM while commands run in sandboxes (see `bake_interrupt_install`).
public enum Interrupts {
    /// Builds: an interrupt kills running sandboxes at once, and bake stops.
    public static func installForBuilds() {
        bake_interrupt_install(0, SIGTERM, -1)
    }

    /// `bake run` (and verify's rebuild): the first interrupt is passed to the command as
    /// `stopSignal` (the command's `Command.stopSignal` must be the same, so the sandbox's
    /// init passes it on); if the command still runs `grace` seconds later (nil: never),
    /// or at a second interrupt, it is killed. A grace of 0 kills at once.
    public static func installForRun(stopSignal: Int32 = SIGTERM, grace: Int? = nil) {
        bake_interrupt_install(1, stopSignal, grace.map { Int32(clamping: $0) } ?? -1)
    }

    /// Clears a signal mask inherited from bake's parent, so Ctrl-C reaches bake. Call
    /// first thing in `main`, before any thread is started.
    public static func unblockSignals() {
        bake_signals_unblock()
    }

    /// True once an interrupt arrived.
    public static var happened: Bool { bake_interrupted() != 0 }
}
