import ArgumentParser
import OCI
import Pipeline

extension Bake {
    struct Retag: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Point tags at an image already in a registry (a rollback).",
            discussion: """
                Reads the manifest REPOSITORY:FROM (or REPOSITORY@sha256:DIGEST) names and \
                puts the same bytes under each tag TO of the same repository. No blob moves, \
                so it takes one request per tag. Prints REPOSITORY:TO and the digest.

                EXAMPLES:
                  # roll latest back to build 454
                  bake retag registry.example.com/team/app:454 latest
                  bake retag registry.example.com/team/app@sha256:... latest stable
                """
        )

        @OptionGroup var global: GlobalOptions

        @Argument(help: ArgumentHelp("The image the tags should name: HOST[:PORT]/PATH:TAG or HOST[:PORT]/PATH@sha256:DIGEST.", valueName: "repository:from"))
        var source: String

        @Argument(help: ArgumentHelp("Tags of the same repository to point at it.", valueName: "to"))
        var targets: [String] = []

        @OptionGroup var registry: RegistryFlags

        @Flag(help: "Print the result as JSON.")
        var json = false

        func validate() throws {
            guard !targets.isEmpty else { throw ValidationError("name at least one tag to set, e.g. bake retag \(source) latest") }
        }

        func run() throws {
            let access = global.registryAccess(credentials: registry.creds, insecureHost: registry.insecure ? source : nil)
            let report = try Retagger.retag(source, to: targets, access: access)
            if json {
                print(String(decoding: try CanonicalJSON.encodePretty(report), as: UTF8.self))
                return
            }
            for tag in report.tags { print("\(tag) -> \(report.digest)") }
        }
    }
}
