import ArgumentParser
import Foundation
import Pipeline

/// Options every command takes, before or after the command name.
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .customShort("C"),
        help: ArgumentHelp("Project folder holding images/ (default: the current folder).", valueName: "DIR")
    )
    var directory: String?

    @Option(
        name: .customLong("store"),
        help: ArgumentHelp("Store folder (default: DIR/.bake).", valueName: "DIR")
    )
    var store: String?

    @Option(help: ArgumentHelp("How builds show progress: auto (live on a terminal), plain, or json (one event per line on stdout).", valueName: "MODE"))
    var progress: ProgressMode = .auto

    @Option(
        name: .customLong("insecure-registry"),
        help: ArgumentHelp("A registry (HOST[:PORT]) that may use plain HTTP or an unverified certificate, for 'from: {image: ...}' bases (repeatable).", valueName: "HOST")
    )
    var insecureRegistries: [String] = []

    /// The store folder these options name, for messages.
    var workspaceStoreRoot: String { (try? workspace().store.root) ?? ".bake" }

    /// The project folder and store these options name.
    func workspace() throws -> Workspace {
        var workspace = try Workspace(directory: directory, storePath: store)
        workspace.onLockWait = { path in
            Console.standardError("bake: waiting for another bake process to release the store lock \(path)")
        }
        workspace.onWarning = { message in Console.warning(message) }
        return workspace
    }

    /// How registries are reached: `--insecure-registry` hosts, plus the host of
    /// `insecureHost` (a reference given with `--insecure`), and `--creds`.
    func registryAccess(credentials: String? = nil, insecureHost: String? = nil) -> RegistryAccess {
        var hosts = Set(insecureRegistries)
        if let insecureHost, let slash = insecureHost.firstIndex(of: "/") { hosts.insert(String(insecureHost[..<slash])) }
        return RegistryAccess(insecureHosts: hosts, credentials: credentials, environment: ProcessInfo.processInfo.environment)
    }

    /// The revision, source and version written into images built in `workspace`.
    func metadata(_ workspace: Workspace) -> SourceMetadata {
        SourceMetadata.discover(directory: workspace.directory, environment: ProcessInfo.processInfo.environment)
    }
}
