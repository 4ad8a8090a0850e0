import ArgumentParser
import Pipeline

extension Bake {
    struct Plan: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what build would do, step by step, without doing it.",
            discussion: """
                Lists the images a build of IMAGE would touch (every image when none is named), \
                parents first, with the base each is built on and its steps in order. Reads the \
                stage files only; changes nothing.

                EXAMPLES:
                  bake plan
                  bake plan app
                """
        )

        @OptionGroup var global: GlobalOptions

        @Argument(help: "Images to plan (default: every image in images/).")
        var images: [String] = []

        func run() throws {
            let project = try global.workspace().loadProject()
            let plan = try Pipeline.Plan.make(project: project, targets: images)
            for image in plan.images {
                print("\(image.name)  (\(image.file))  from \(image.base)")
                if image.steps.isEmpty { print("  no steps") }
                for step in image.steps {
                    print("  \(step.number). \(step.action.summary)")
                }
                let config = configSummary(image.config)
                if !config.isEmpty { print("  config: \(config)") }
                for check in image.checks {
                    print("  check: \(check.script.split(separator: "\n").first.map(String.init) ?? "")")
                }
            }
            do {
                try Builder.checkSupported(plan.images.map { project.stages[$0.name]! })
            } catch {
                Console.warning("build would stop: \(error)")
            }
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
            return parts.joined(separator: "; ")
        }
    }
}

