import ArgumentParser
import OCI
import Pipeline

extension Bake {
    struct History: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the past builds of IMAGE, newest first.",
            discussion: """
                Reads the build records of the store: each build's number, when it finished, \
                its manifest digest, the git revision it was built from, and how many steps \
                were built or taken from the cache. 'current' marks the image the store names \
                IMAGE now. A past build stays in the store (gc keeps the blobs of every build \
                record), so it can be inspected, run or exported again as IMAGE@N.

                EXAMPLES:
                  bake history app
                  # roll back to build 41
                  bake export app@41 --format oci-archive --output app-41.tar
                  bake history app --json | jq -r '.builds[1].digest'
                """
        )

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The image whose builds to list.")
        var image: String

        @Flag(help: "Print JSON instead of text.")
        var json = false

        func run() throws {
            let report = try HistoryReport.load(image, workspace: global.workspace())
            if json {
                print(String(decoding: try CanonicalJSON.encodePretty(report), as: UTF8.self))
                return
            }
            for entry in report.builds {
                var line = "\(report.name)@\(entry.build)  \(entry.finishedAt)  \(entry.digest)"
                if entry.current { line += "  current" }
                if !entry.available { line += "  (blobs removed)" }
                line += "  \(entry.built) built, \(entry.cached) cached"
                if let revision = entry.revision { line += "  rev \(revision.prefix(12))" }
                if let parent = entry.parent { line += "  on \(parent.name) \(parent.digest.short)" }
                print(line)
            }
        }
    }
}
