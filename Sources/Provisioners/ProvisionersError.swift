import Diagnostics
import Glibc
import Layers

/// Errors of Provisioners, each one sentence naming what failed.
public enum ProvisionersError: BakeError, Sendable {
    /// The sandbox could not be set up (a mount, the overlay, pivot_root...).
    case sandbox(String)
    /// bake was interrupted (Ctrl-C, SIGTERM) while a command ran.
    case interrupted
    /// A tool bake needs is not installed.
    case missingTool(tool: String, package: String)
    /// A tool bake runs failed.
    case toolFailed(tool: String, status: Int32, output: String)
    /// A step's or check's command exited with a non-zero status; its last lines of output.
    /// (The walker names the stage file's line, the image and the step or check.)
    case commandFailed(status: Int32, output: [String])
    /// A base could not be made or imported, for a reason that is not the user's input.
    case baseFailed(String)
    /// A command ran into its memory or process limit. (The walker names the stage file's
    /// line, the image and the step or check.)
    case limitReached(LimitHit)
    /// The store is on a file system overlayfs cannot use for a step's layers.
    case unusableFileSystem(folder: String, fileSystem: MountedFileSystem, cause: String)

    public var exitStatus: BakeExitStatus {
        switch self {
        case .interrupted: return .interrupted
        // The user can fix it by installing the tool: bad input, as for a missing file.
        case .missingTool: return .badInput
        // The user fixes it by giving another --store.
        case .unusableFileSystem: return .badInput
        case .sandbox, .toolFailed, .commandFailed, .baseFailed, .limitReached: return .failure
        }
    }

    public var description: String {
        switch self {
        case .sandbox(let message):
            return "cannot set up the sandbox: \(message)"
        case .interrupted:
            return "interrupted"
        case .missingTool(let tool, let package):
            return "\(tool) is not installed; install the Debian package '\(package)' (apt-get install \(package))"
        case .toolFailed(let tool, let status, let output):
            let tail = output.split(separator: "\n").suffix(15).joined(separator: "\n")
            return "\(tool) failed with status \(status)" + (tail.isEmpty ? "" : ":\n\(tail)")
        case .commandFailed(let status, let output):
            var text = "its command exited with status \(status)"
            if !output.isEmpty {
                text += "; its last lines:\n" + output.suffix(20).map { "  | \($0)" }.joined(separator: "\n")
            }
            return text
        case .baseFailed(let message):
            return message
        case .limitReached(let hit):
            return "the command \(hit)"
        case .unusableFileSystem(let folder, let fileSystem, let cause):
            return "the store's folder \(folder) is on a \(fileSystem.type) file system (mounted at \(fileSystem.mountPoint)), which overlayfs cannot use for a step's layers (\(cause)); give bake a store on a local file system (ext4, xfs, btrfs, tmpfs) with --store DIR"
        }
    }
}
