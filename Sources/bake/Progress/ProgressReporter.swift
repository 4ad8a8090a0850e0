import ArgumentParser
import Glibc
import Pipeline

/// A build reporter that can also print the end of a build.
protocol ProgressReporter: BuildReporter {
    /// Called once after a successful build.
    func finish(_ images: [BuiltImage], seconds: Double)
    /// Called when a build fails, before the error is printed.
    func stop()
    /// Called when a build fails with `error`, before `stop()`.
    func failed(_ error: any Error)
}
