import Layers
import OCI

/// How a step reaches the root file system it changes, as a Packer provisioner reaches a
/// machine only through a communicator: it runs commands, reads back what they changed and
/// discards the machine, and knows nothing of how the machine is isolated or where its
/// files live. `OverlayMachine` is the real one; tests of the builder use a fake.
public protocol Machine: AnyObject {
    /// Runs `command`, sending its output where `output` says; returns its exit status
    /// (0-255, or 128 + the signal that ended it).
    func run(_ command: Command, output: CommandOutput) throws -> Int32

    /// What the commands changed, over the image `below` (what the machine started from),
    /// written to `tar` as layer entries in canonical order: the sandbox's own mount points
    /// left out, volatile files normalised (`Normaliser`), times clamped to `epoch`.
    func changes(below: ImageFilesystem, epoch: Int64, into tar: TarWriter) throws -> [TarEntry]

    /// Removes the machine and everything it changed. Safe to call twice.
    func discard()
}
