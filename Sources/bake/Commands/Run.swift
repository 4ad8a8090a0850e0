import ArgumentParser
import Pipeline
import Provisioners

extension Bake {
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a built image in the sandbox, on the host's network.",
            discussion: """
                Runs IMAGE's entrypoint with its cmd (or with CMD, given after --), with the \
                image's env, workdir and user (or --user, --workdir), on the host's network, in \
                the same sandbox steps run in. What it changes is discarded, except in the host \
                folders and files given with --volume HOST:IMAGE[:ro], the only host paths it \
                sees. Ctrl-C (or SIGTERM to bake) sends the command the image's stop signal \
                (config.stopSignal, SIGTERM by default); if it has not ended --stop-timeout \
                seconds later (default 10), or at a second Ctrl-C, it is killed, and bake exits \
                130. The exit status is otherwise the command's; a command that goes over \
                --memory or --pids fails with exit 1. The terminal's settings are restored when \
                it ends.

                EXAMPLES:
                  bake run app
                  bake run app --env APP_ENV=staging
                  bake run app -- /bin/sh -c 'id; ls /srv'
                  bake run app --user 0 --workdir /srv/app -- sh
                  bake run app --volume ./data:/var/lib/app --volume /etc/ssl:/ssl:ro
                  bake run app --stop-timeout 30
                  bake run app --memory 2G --pids 1024
                """
        )

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The image to run.")
        var image: String

        @Option(name: [.short, .customLong("env")], help: ArgumentHelp("Set NAME=VALUE in the command's environment.", valueName: "NAME=VALUE"))
        var environment: [String] = []

        @Option(name: [.short, .customLong("user")],
                help: ArgumentHelp("Run as USER (a name or uid of the image's /etc/passwd, with an optional group), not the image's user.",
                                   valueName: "USER[:GROUP]"))
        var user: String?

        @Option(name: [.short, .customLong("workdir")], help: ArgumentHelp("Start in DIR (absolute, in the image), not the image's workdir.", valueName: "DIR"))
        var workdir: String?

        @Option(name: [.short, .customLong("volume")],
                help: ArgumentHelp("Bind the host path HOST (which must exist) at IMAGE (absolute), read-write unless :ro; may repeat.",
                                   valueName: "HOST:IMAGE[:ro]"))
        var volumes: [String] = []

        @Option(name: .customLong("stop-timeout"),
                help: ArgumentHelp("Seconds the command has to end after the stop signal before it is killed (default: \(RunOptions.defaultStopTimeout)).",
                                   valueName: "SECONDS"))
        var stopTimeout: String?

        @Option(help: ArgumentHelp("The most memory the command may use, like 512M or 2G (default: half of the host's RAM).",
                                   valueName: "SIZE"))
        var memory: String?

        @Option(help: ArgumentHelp("The most processes the command may run at once (default: \(ResourceLimits.defaultProcesses)).",
                                   valueName: "N"))
        var pids: String?

        @Argument(parsing: .postTerminator, help: "The command and its arguments, instead of the image's cmd.")
        var command: [String] = []

        func run() throws {
            var options = RunOptions()
            options.command = command
            options.environment = environment
            options.limits = ResourceLimits(
                memory: try memory.map { try ResourceLimits.memory(parsing: $0, shown: "--memory \($0)") },
                processes: try pids.map { try ResourceLimits.processes(parsing: $0, shown: "--pids \($0)") })
            options.user = user
            options.workdir = try workdir.map(RunOptions.workdir(parsing:))
            options.volumes = try volumes.map { try RunOptions.volume(parsing: $0) }
            if let stopTimeout { options.stopTimeout = try RunOptions.stopTimeout(parsing: stopTimeout) }
            let status = try ImageRunner.run(image, options: options, workspace: global.workspace())
            if status != 0 { throw ExitCode(status) }
        }
    }
}
