import Foundation
import Layers

/// `run: SCRIPT` with `network:`, `secrets:`, `user:`, `limits:`: a shell script in a sandbox
/// on the image below; what it changes becomes the layer.
public struct RunStep: Provisioner, Hashable {
    public static let kind = "run"

    public var script: String
    /// Access to the host's network (default: none at all).
    public var network: Bool
    /// Ids of the secrets mounted at /run/secrets/ID.
    public var secrets: [String]
    /// The user the script runs as (default root).
    public var user: UserSpec?
    /// Memory and processes (default `ResourceLimits`). Not in the spec, so not in the cache
    /// key: a limit decides whether the step succeeds, never what a successful step makes.
    public var limits: ResourceLimits

    public init(script: String, network: Bool = false, secrets: [String] = [], user: UserSpec? = nil,
                limits: ResourceLimits = ResourceLimits()) {
        self.script = script
        self.network = network
        self.secrets = secrets
        self.user = user
        self.limits = limits
    }

    public var secretIDs: [String] { secrets }

    public var summary: String {
        let lines = script.split(separator: "\n", omittingEmptySubsequences: true)
        var text = "run " + (lines.first.map(String.init) ?? "")
        if lines.count > 1 { text += " ..." }
        if network { text += " (network)" }
        return text
    }

    public var spec: StepSpec {
        var arguments = ["script": script]
        if let user { arguments["user"] = user.description }
        return StepSpec(kind: Self.kind, arguments: arguments)
    }

    public func apply(_ context: StepContext) throws -> StepOutcome {
        let account = try context.users.account(user)
        let script = ShellScript(
            script: script, account: account,
            environment: SandboxEnvironment.make(image: context.below.config?.env ?? [], home: account.home, epoch: context.epoch),
            network: network, secrets: secrets.compactMap { id in context.secrets[id].map { Secret(id: id, value: $0) } },
            limits: limits)
        let entries = try ScriptLayer.run(script, context)
        return StepOutcome(entries: entries, history: "run " + self.script.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
