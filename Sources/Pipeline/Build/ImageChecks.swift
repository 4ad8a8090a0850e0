import Diagnostics
import Layers
import OCI
import Provisioners

/// `checks:` of a stage, run in the finished image as the image would run (its env,
/// workdir and user, or the check's `user:`), no network, changes discarded.
struct ImageChecks {
    let store: ContentStore
    let reporter: BuildReporter
    let machines: any MachineFactory

    /// The digest of a stage's checks (nil when it has none): checks are run again when
    /// the image or its checks change.
    static func digest(_ stage: Stage) -> Digest? {
        guard !stage.checks.isEmpty else { return nil }
        let text = stage.checks.map { "\($0.user?.description ?? "")\u{0}\($0.script)" }.joined(separator: "\u{1}")
        return Digest.sha256(Array(text.utf8))
    }

    /// Runs every check; the first failure throws.
    func run(_ stage: Stage, image: AssembledImage, epoch: Int64) throws {
        let stack = LayerStack(layers: image.manifest.layers, diffIDs: image.config.rootfs.diffIDs)
        let tree = try store.filesystem(layers: stack.layers, diffIDs: stack.diffIDs)
        let container = image.config.config
        for (index, check) in stage.checks.enumerated() {
            let what = "check \(index + 1)"
            reporter.report(.checkStarted(image: stage.name, check: index + 1, of: stage.checks.count,
                                          summary: check.script.split(separator: "\n").first.map(String.init) ?? ""))
            do {
                let users = ImageUsers(store: store, tree: tree, layers: stack.layers)
                let account = try check.user.map(users.account) ?? users.account(configUser: container?.user)
                try ShellScript.requireShell(in: tree)
                let script = ShellScript(
                    script: check.script, account: account,
                    environment: SandboxEnvironment.make(image: container?.env ?? [], home: account.home, epoch: epoch),
                    workdir: container?.workingDir ?? "/", limits: check.limits)
                let machine = try machines.machine(on: stack)
                defer { machine.discard() }
                let reporter = self.reporter
                try script.runChecked(in: machine) { line in
                    reporter.report(.output(image: stage.name, label: what, line: line))
                }
            } catch let error as InputError {
                throw PipelineError.stepInput(image: stage.name, what: what, location: check.location, message: error.message)
            } catch ProvisionersError.limitReached(let hit) {
                throw PipelineError.limitReached(image: stage.name, what: what, location: check.location, limit: hit)
            } catch ProvisionersError.commandFailed(let status, let output) {
                throw PipelineError.commandFailed(image: stage.name, what: what, location: check.location, status: status, output: output)
            } catch let error as ProvisionersError {
                if case .interrupted = error { throw error }
                throw ErrorWithContext("\(check.location): \(what) of \(stage.name) could not run", cause: error)
            }
        }
    }
}
