import Diagnostics
import Glibc
import Layers
import OCI
import Provisioners

/// `bake verify`: rebuilds images and everything they are built on from nothing, in a new
/// store on a changed machine (`VerifyEnvironment`), by another bake process
/// (`ChangedHostProcess`), and compares every level with the build it checks (or
/// bake.lock), explaining the first difference down to the file.
public struct Verifier {
    let workspace: Workspace
    let project: Project
    let options: VerifyOptions

    public init(workspace: Workspace, project: Project, options: VerifyOptions) {
        self.workspace = workspace
        self.project = project
        self.options = options
    }

    /// Runs the verification; `announce` receives a line about the changed environment
    /// before the rebuild starts.
    public func run(announce: (String) -> Void) throws -> VerifyReport {
        let order = try project.buildOrder(for: options.targets)
        if options.diffoscope && HostTool.path("diffoscope") == nil {
            throw ProvisionersError.missingTool(tool: "diffoscope (needed for --diffoscope)", package: "diffoscope-minimal")
        }
        let expected = try expectations(order)
        let epochs = Set(expected.map { $0.sourceDateEpoch.map(String.init) ?? "unset" })
        guard epochs.count == 1 else {
            throw PipelineError.badInput(
                "\(order.joined(separator: ", ")) were built with different SOURCE_DATE_EPOCH values (\(epochs.sorted().joined(separator: ", "))); build them together ('bake build \(order.last!)') and verify again")
        }

        let temporary = options.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/var/tmp"
        let elsewhere = try VerifyEnvironment.make(under: temporary)
        defer { if !options.keep { try? FileSystem.removeTree(elsewhere.folder) } }
        // Only the pins the expected builds used: the verification build must ask upstream
        // for exactly the same release.
        var pins = LockFile()
        for image in expected {
            guard let upstream = image.upstream else { continue }
            var entry = LockFile.Image()
            entry.upstream = upstream
            pins.images[image.name] = entry
        }
        try elsewhere.copy(project, order: order, pins: pins)
        announce(elsewhere.announcement(order))

        var arguments = [options.executable, "--progress", options.progress, "-C", elsewhere.project, "--store", elsewhere.store,
                         "build", "--no-cache", "--jobs", String(elsewhere.jobs), "--threads", String(elsewhere.threads)]
        for secret in options.secretArguments { arguments += ["--secret", secret] }
        for host in options.insecureRegistries { arguments += ["--insecure-registry", host] }
        arguments += options.buildArguments
        arguments += order
        var rebuild = ChangedHostProcess(
            arguments: arguments,
            environment: elsewhere.environment(from: options.environment, sourceDateEpoch: expected.last!.sourceDateEpoch,
                                               metadata: expected.last!.metadata),
            hostname: VerifyEnvironment.hostname, umask: UInt32(elsewhere.umask))
        rebuild.binds = try elsewhere.hostFileBinds()
        let status = try rebuild.run()
        guard status == 0 else {
            if Interrupts.happened { throw ProvisionersError.interrupted }
            if status == BakeExitStatus.badInput.rawValue {
                // A secret not given, a limit over the ceiling: the same input fault as a build's.
                throw PipelineError.badInput("the verification build stopped for bad input (exit status 2, its message is above), so nothing could be compared")
            }
            throw PipelineError.failed("the verification build failed (exit status \(status), its messages are above), so nothing could be compared")
        }

        let rebuiltStore = ContentStore(root: elsewhere.store)
        var report = VerifyReport(reproducible: true, images: [], difference: nil, environment: elsewhere.changes,
                                  kept: options.keep ? elsewhere.folder : nil)
        let lock = try workspace.store.exists ? workspace.readLock() : nil
        defer { withExtendedLifetime(lock) {} }
        for image in expected {
            guard let rebuilt = try rebuiltStore.image(named: image.name) else {
                throw PipelineError.failed("the verification build did not make \(image.name)")
            }
            let same = rebuilt.digest == image.manifest
            report.images.append(.init(name: image.name, reference: image.reference, expected: image.manifest,
                                       rebuilt: rebuilt.digest, reproducible: same))
            if !same {
                report.reproducible = false
                if report.difference == nil {
                    report.difference = try explain(image, rebuilt: rebuilt, in: rebuiltStore, folder: elsewhere.folder)
                }
            }
        }
        return report
    }
}
