import ArgumentParser
import Foundation
import Pipeline

extension Bake {
    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build images and everything upstream of them.",
            discussion: """
                Builds each IMAGE from images/IMAGE/stage.yaml, after the images it is built on \
                (every image when none is named), and names the results in the store's OCI \
                layout (.bake/oci). Prints one line per image built: its name and manifest digest.

                The time inside images is SOURCE_DATE_EPOCH when it is set, otherwise derived \
                from the inputs (1970-01-01 for images on scratch), never the clock.

                EXAMPLES:
                  bake build app
                  bake -C path/to/project build
                  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) bake build app
                """
        )

        @OptionGroup var global: GlobalOptions

        @Argument(help: "Images to build (default: every image in images/).")
        var images: [String] = []

        func run() throws {
            let workspace = try global.workspace()
            let project = try workspace.loadProject()
            let epoch = try BuildTime.sourceDateEpoch(from: ProcessInfo.processInfo.environment)
            let builder = Builder(project: project, store: workspace.store, reporter: ConsoleReporter())
            for image in try builder.build(BuildOptions(targets: images, sourceDateEpoch: epoch)) {
                print("\(image.name) \(image.manifestDescriptor.digest)")
            }
        }
    }
}
