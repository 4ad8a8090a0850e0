import Layers
import OCI
import Provisioners

/// Receives build events.
public protocol BuildReporter: AnyObject, Sendable {
    func report(_ event: BuildEvent)
}

/// A reporter that says nothing.
public final class SilentReporter: BuildReporter {
    public init() {}
    public func report(_ event: BuildEvent) {}
}
