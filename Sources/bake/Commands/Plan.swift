import ArgumentParser
import Foundation
import Pipeline

extension Bake {
    struct Plan: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what build would do, step by step, and why, without doing it.",
            discussion: """
                Lists the images a build of IMAGE would touch (every image when none is named), \
                parents first, and each step as HIT (taken from the cache) or BUILD with the \
                reason: the input file, step text, base image or build time that changed since \
                the last build. A step that will run and lists secrets says so ("needs \
                secret api"): only those need --secret; a cached step needs none. Reads files \
                and the store; writes nothing.

                EXAMPLES:
                  bake plan
                  bake plan app
                  bake plan --no-cache app
                """
        )

        @OptionGroup var global: GlobalOptions

        @Argument(help: "Images to plan (default: every image in images/).")
        var images: [String] = []

        @Flag(help: "Plan as build --no-cache would run.")
        var noCache = false

        func run() throws {
            let workspace = try global.workspace()
            let project = try workspace.loadProject()
            let epoch = try BuildTime.sourceDateEpoch(from: ProcessInfo.processInfo.environment)
            let plan = try Pipeline.Plan.make(workspace: workspace, project: project, targets: images,
                                              sourceDateEpoch: epoch, noCache: noCache, metadata: global.metadata(workspace))
            for image in plan.images {
                print("\(image.name)  (\(image.file))  from \(image.base)")
                switch image.baseStatus {
                case .hit(let layer)?: print("  0. HIT    from \(image.base)  [\(layer.descriptor.digest.short)]")
                case .build(let reason)?: print("  0. BUILD  from \(image.base)  (\(reason.summary))")
                default: break
                }
                if image.steps.isEmpty { print("  no steps") }
                for step in image.steps {
                    switch step.status {
                    case .hit(let layer):
                        print("  \(step.step.number). HIT    \(step.step.summary)  [\(layer.descriptor.digest.short)]")
                    case .build(let reason):
                        print("  \(step.step.number). BUILD  \(step.step.summary)  (\(reason.summary))\(needs(step.step))")
                    case .after(let why):
                        print("  \(step.step.number). BUILD  \(step.step.summary)  (\(why))\(needs(step.step, maybe: !image.certainlyRuns(step)))")
                    }
                }
                let config = configSummary(image.config)
                if !config.isEmpty { print("  config: \(config)") }
                for check in image.checks {
                    print("  check: \(check.script.split(separator: "\n").first.map(String.init) ?? "")")
                }
                if let digest = image.predicted {
                    if image.isUpToDate {
                        print("  up to date: \(digest)")
                    } else if let current = image.current {
                        print("  out of date: the store names \(current); a build (every step cached) names \(digest)")
                    } else {
                        print("  not built yet: a build (every step cached) names \(digest)")
                    }
                }
            }
        }

        /// The secrets a step that will run needs (a cached one needs none); one after a
        /// rebuilt step or parent `maybe` needs them (it is a hit if that comes out the same).
        private func needs(_ step: Step, maybe: Bool = false) -> String {
            let ids = step.provisioner.secretIDs
            return ids.isEmpty ? "" : "  \(maybe ? "may need" : "needs") secret\(ids.count == 1 ? "" : "s") \(ids.joined(separator: ", "))"
        }

        private func configSummary(_ patch: ConfigPatch) -> String {
            var parts: [String] = []
            if !patch.env.isEmpty { parts.append("env " + patch.env.map(\.0).joined(separator: ",")) }
            if let workdir = patch.workdir { parts.append("workdir \(workdir)") }
            if let user = patch.user { parts.append("user \(user)") }
            if let entrypoint = patch.entrypoint { parts.append("entrypoint \(entrypoint)") }
            if let cmd = patch.cmd { parts.append("cmd \(cmd)") }
            if let ports = patch.ports { parts.append("ports " + ports.joined(separator: ",")) }
            if !patch.labels.isEmpty { parts.append("labels " + patch.labels.map(\.0).joined(separator: ",")) }
            if let signal = patch.stopSignal { parts.append("stopSignal \(signal)") }
            if let healthcheck = patch.healthcheck { parts.append("healthcheck \(healthcheck.test)") }
            if let volumes = patch.volumes { parts.append("volumes " + volumes.joined(separator: ",")) }
            return parts.joined(separator: "; ")
        }
    }
}
