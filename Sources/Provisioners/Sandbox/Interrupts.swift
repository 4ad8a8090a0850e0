import CSandbox

/// Ctrl-C and SIGTERM while commands run in sandboxes (see `bake_interrupt_install`).
public enum Interrupts {
    /// Builds: an interrupt kills running sandboxes at once, and bake stops.
    public static func installForBuilds() {
        bake_interrupt_install(0)
    }

    /// `bake run`: an interrupt is passed to the command as SIGTERM; a second one kills.
    public static func installForRun() {
        bake_interrupt_install(1)
    }

    /// Clears a signal mask inherited from bake's parent, so Ctrl-C reaches bake. Call
    /// first thing in `main`, before any thread is started.
    public static func unblockSignals() {
        bake_signals_unblock()
    }

    /// True once an interrupt arrived.
    public static var happened: Bool { bake_interrupted() != 0 }
}
