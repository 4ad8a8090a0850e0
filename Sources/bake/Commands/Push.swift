import ArgumentParser
import Foundation
import OCI
import Pipeline

extension Bake {
    struct Push: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Push a built image to a registry and tag it.",
            discussion: """
                Pushes IMAGE's blobs (several at once; a blob the repository already has is \
                skipped, one another repository of the registry has is mounted, large ones go \
                in chunks that resume after a dropped connection), then its manifest by digest, \
                then sets every tag to that digest. Failed requests (429, 5xx, dropped \
                connections) are retried with backoff. Prints the digest and each \
                REPOSITORY:TAG set.

                Tag templates:
                  {git.sha}    the git revision IMAGE was built from (its revision label)
                  {git.short}  its first 7 characters
                  {seq}        one more than the highest number among the repository's tags of
                               the same shape: {seq} counts all-digit tags, build-{seq} counts
                               build-1, build-2...; 1 for the first
                Other tags are set as written.

                Credentials, first found: --creds, BAKE_REGISTRY_USER and \
                BAKE_REGISTRY_PASSWORD, the registry's 'auths' entry in \
                $DOCKER_CONFIG/config.json or ~/.docker/config.json. Basic auth and bearer \
                tokens are both handled. TLS is verified unless --insecure.

                EXAMPLES:
                  REPO=registry.example.com/team/app
                  bake push app $REPO --tag {git.sha} --tag {seq} --tag latest
                  # an older build
                  bake push app@41 $REPO --tag latest
                  bake push app 127.0.0.1:5000/app --tag dev --insecure
                  bake push app $REPO --tag {seq} --json | jq -r .reference
                """
        )

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The image to push: NAME, NAME@N or NAME@sha256:DIGEST.")
        var image: String

        @Argument(help: ArgumentHelp("Where to push: HOST[:PORT]/PATH (a :TAG is set as one more tag).", valueName: "repository"))
        var repository: String

        @Option(name: .customLong("tag"), help: ArgumentHelp("A tag or tag template to set (repeatable).", valueName: "T"))
        var tags: [String] = []

        @OptionGroup var registry: RegistryFlags

        @Option(help: "Blobs uploaded at once.")
        var jobs = 4

        @Flag(help: "Print the result as JSON.")
        var json = false

        func validate() throws {
            guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
        }

        func run() throws {
            let access = global.registryAccess(credentials: registry.creds, insecureHost: registry.insecure ? repository : nil)
            let report = try Pusher.push(
                PushOptions(image: image, repository: repository, tags: tags, jobs: jobs, access: access),
                workspace: global.workspace())
            if json {
                print(String(decoding: try CanonicalJSON.encodePretty(report), as: UTF8.self))
                return
            }
            let counts = Dictionary(grouping: report.blobs, by: \.result).mapValues(\.count)
            let sent = report.blobs.filter { $0.result == .uploaded }.reduce(Int64(0)) { $0 + $1.size }
            Console.standardError(
                "bake: \(report.blobs.count) blobs: \(counts[.uploaded] ?? 0) uploaded (\(sent) bytes), "
                    + "\(counts[.mounted] ?? 0) mounted, \(counts[.existed] ?? 0) already there")
            print(report.reference)
            for tag in report.tags { print(tag) }
        }
    }
}
