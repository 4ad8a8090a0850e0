import ArgumentParser
import Pipeline

extension Bake {
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a built image in the sandbox, on the host's network.",
            discussion: """
                Runs IMAGE's entrypoint with its cmd (or with CMD, given after --), with the \
                image's env, workdir and user, on the host's network, in the same sandbox steps \
                run in. What it changes is discarded. Ctrl-C stops it cleanly (the command gets \
                SIGTERM; a second Ctrl-C kills it). The exit status is the command's.

                EXAMPLES:
                  bake run app
                  bake run app --env APP_ENV=staging
                  bake run app -- /bin/sh -c 'id; ls /srv'
                """
        )

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The image to run.")
        var image: String

        @Option(name: [.short, .customLong("env")], help: ArgumentHelp("Set NAME=VALUE in the command's environment.", valueName: "NAME=VALUE"))
        var environment: [String] = []

        @Argument(parsing: .postTerminator, help: "The command and its arguments, instead of the image's cmd.")
        var command: [String] = []

        func run() throws {
            let status = try ImageRunner.run(image, command: command, environment: environment, workspace: global.workspace())
            if status != 0 { throw ExitCode(status) }
        }
    }
}
