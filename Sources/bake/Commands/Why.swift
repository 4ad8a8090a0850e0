import ArgumentParser
import Foundation
import Pipeline

extension Bake {
    struct Why: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Say why IMAGE is not a cache hit: the first input that changed.",
            discussion: """
                Compares IMAGE and the images it is built on with their last builds and names \
                the first change a build would meet: which file was added, removed or changed, \
                which step's text changed, which base image changed from what to what, or a new \
                build time. Writes nothing. Exits 0 either way.

                EXAMPLES:
                  bake why app
                """
        )

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The image to explain.")
        var image: String

        func run() throws {
            let workspace = try global.workspace()
            let project = try workspace.loadProject()
            let epoch = try BuildTime.sourceDateEpoch(from: ProcessInfo.processInfo.environment)
            let report = try WhyReport.explain(image, workspace: workspace, project: project, sourceDateEpoch: epoch,
                                                metadata: global.metadata(workspace))
            for line in report.lines { print(line) }
        }
    }
}
