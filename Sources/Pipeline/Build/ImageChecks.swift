import Diagnostics
import Layers
import OCI
import Provisioners

/// `checks:` of a stage, run in the finished image as the image would run (its env, PATH
/// included, workdir and user, or the check's `user:`), no network, changes discarded.
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

    /// Runs every check, reporting each one's result; the first failure throws.
    func run(_ stage: Stage, image: AssembledImage, epoch: Int64) throws {
        let stack = LayerStack(layers: image.manifest.layers, diffIDs: image.config.rootfs.diffIDs)
        let tree = try store.filesystem(layers: stack.layers, diffIDs: stack.diffIDs)
        let container = image.config.config
        for (index, check) in stage.checks.enumerated() {
            let what = "check \(index + 1)"
            reporter.report(.checkStarted(image: stage.name, check: index + 1, of: stage.checks.count,
                                          summary: check.script.split(separator: "\n").first.map(String.init) ?? ""))
            let started = ContinuousClock.now
            let reporter = self.reporter
            let finished = { (result: CheckResult) in
                reporter.report(.checkFinished(image: stage.name, check: index + 1, of: stage.checks.count, result: result,
                                               seconds: started.secondsSince))
            }
            do {
                let users = ImageUsers(store: store, tree: tree, layers: stack.layers)
                let account = try check.user.map(users.account) ?? users.account(configUser: container?.user)
                try ShellScript.requireShell(in: tree)
                let script = ShellScript(
                    script: check.script, account: account,
                    environment: SandboxEnvironment.make(image: container?.env ?? [], home: account.home, epoch: epoch, path: .image),
                    workdir: container?.workingDir ?? "/", limits: check.limits)
                let machine = try machines.machine(on: stack)
                defer { machine.discard() }
                try script.runChecked(in: machine) { line in
                    reporter.report(.output(image: stage.name, label: what, line: line))
                }
                finished(.passed)
            } catch {
                if case ProvisionersError.interrupted = error { throw error }
                if case ProvisionersError.commandFailed(let status, _) = error {
                    finished(.failed(exitStatus: status))
                } else {
                    finished(.failed(exitStatus: nil))
                }
                throw Self.map(error, check: check, what: what, image: stage.name)
            }
        }
    }

    /// A check's error, naming the stage file's line, the image and the check, with its cause.
    static func map(_ error: any Error, check: Check, what: String, image: String) -> any Error {
        switch error {
        case let input as InputError:
            return PipelineError.stepInput(image: image, what: what, location: check.location, message: input.message)
        case ProvisionersError.limitReached(let hit):
            return PipelineError.limitReached(image: image, what: what, location: check.location, limit: hit)
        case ProvisionersError.commandFailed(let status, let output):
            return PipelineError.commandFailed(image: image, what: what, location: check.location, status: status, output: output)
        case let provisioners as ProvisionersError:
            return ErrorWithContext("\(check.location): \(what) of \(image) could not run", cause: provisioners)
        default:
            return error
        }
    }
}
