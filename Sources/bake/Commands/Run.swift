import ArgumentParser
import Pipeline
import Provisioners

extension Bake {
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a built image in the sandbox, on the host's network.",
            discussion: """
                Runs IMAGE's entrypoint with its cmd (or with CMD, given after --), with the \
                image's env, workdir and user, on the host's network, in the same sandbox steps \
                run in. What it changes is discarded. Ctrl-C stops it cleanly (the command gets \
                SIGTERM; a second Ctrl-C kills it). The exit status is the command's; a \
                command that goes over --memory or --pids fails with exit 1. The terminal's \
                settings are restored when it ends.

                EXAMPLES:
                  bake run app
                  bake run app --env APP_ENV=staging
                  bake run app -- /bin/sh -c 'id; ls /srv'
                  bake run app --memory 2G --pids 1024
                """
        )

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The image to run.")
        var image: String

        @Option(name: [.short, .customLong("env")], help: ArgumentHelp("Set NAME=VALUE in the command's environment.", valueName: "NAME=VALUE"))
        var environment: [String] = []

        @Option(help: ArgumentHelp("The most memory the command may use, like 512M or 2G (default: half of the host's RAM).",
                                   valueName: "SIZE"))
        var memory: String?

        @Option(help: ArgumentHelp("The most processes the command may run at once (default: \(ResourceLimits.defaultProcesses)).",
                                   valueName: "N"))
        var pids: String?

        @Argument(parsing: .postTerminator, help: "The command and its arguments, instead of the image's cmd.")
        var command: [String] = []

        func run() throws {
            let limits = ResourceLimits(
                memory: try memory.map { try ResourceLimits.memory(parsing: $0, shown: "--memory \($0)") },
                processes: try pids.map { try ResourceLimits.processes(parsing: $0, shown: "--pids \($0)") })
            let status = try ImageRunner.run(image, command: command, environment: environment, limits: limits, workspace: global.workspace())
            if status != 0 { throw ExitCode(status) }
        }
    }
}
