import ArgumentParser
import Pipeline

extension GraphFormat: ExpressibleByArgument {}

extension Bake {
    struct Graph: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the image graph (what each image is built on).",
            discussion: """
                EXAMPLES:
                  bake graph | dot -Tsvg > images.svg
                  bake graph --format mermaid
                """
        )

        @OptionGroup var global: GlobalOptions

        @Option(help: "Output format: dot or mermaid.")
        var format: GraphFormat = .dot

        func run() throws {
            let project = try global.workspace().loadProject()
            print(GraphRenderer.render(project, format: format), terminator: "")
        }
    }
}
