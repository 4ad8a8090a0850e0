import ArgumentParser
import Foundation
import OCI
import Pipeline

extension Bake {
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a built image: digest, layers, config, parent.",
            discussion: """
                Reads IMAGE from the store (verifying every blob it reads). With --json, prints \
                {name, digest, layers: [{digest, diffID, size}], config, parent: {name, digest}} \
                for scripts; parent is null for an image not built on another of the pipeline.

                EXAMPLES:
                  bake inspect app
                  bake inspect app --json | jq -r .digest
                """
        )

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The image to show: NAME, NAME@N (build N, see bake history) or NAME@sha256:DIGEST.")
        var image: String

        @Flag(help: "Print JSON instead of text.")
        var json = false

        func run() throws {
            let report = try ImageReport.load(image, workspace: global.workspace())
            if json {
                print(String(decoding: try CanonicalJSON.encodePretty(report), as: UTF8.self))
                return
            }
            print("\(report.name) \(report.digest)")
            if let parent = report.parent { print("  parent   \(parent.name) \(parent.digest)") }
            let platform = [report.config.os, report.config.architecture, report.config.variant].compactMap { $0 }.joined(separator: "/")
            print("  created  \(report.config.created ?? "-")  \(platform)")
            let total = report.layers.reduce(Int64(0)) { $0 + $1.size }
            print("  layers   \(report.layers.count), \(Console.size(total)) compressed")
            for (index, layer) in report.layers.enumerated() {
                let history = report.config.history?.filter { $0.emptyLayer != true }
                let origin = history.flatMap { index < $0.count ? $0[index].createdBy : nil } ?? ""
                print("    \(layer.digest.short)  \(Console.size(layer.size).padding(toLength: 9, withPad: " ", startingAt: 0))  \(Self.oneLine(origin))")
            }
            if let config = report.config.config {
                if let entrypoint = config.entrypoint { print("  entrypoint \(entrypoint)") }
                if let cmd = config.cmd { print("  cmd      \(cmd)") }
                if let user = config.user { print("  user     \(user)") }
                if let workdir = config.workingDir { print("  workdir  \(workdir)") }
                for env in config.env ?? [] { print("  env      \(env)") }
                if let ports = config.exposedPorts { print("  ports    \(ports.keys.sorted().joined(separator: " "))") }
                for (key, value) in (config.labels ?? [:]).sorted(by: { $0.key < $1.key }) { print("  label    \(key)=\(value)") }
                if let signal = config.stopSignal { print("  stop     \(signal)") }
                if let volumes = config.volumes { print("  volumes  \(volumes.keys.sorted().joined(separator: " "))") }
                if let healthcheck = config.healthcheck { print("  health   \(healthcheck.test)") }
            }
        }

        /// A history text (a whole run script) as one line of the layer table: its first
        /// line, cut to fit 80 columns, and how many lines follow.
        static func oneLine(_ text: String, width: Int = 56) -> String {
            let lines = text.split(separator: "\n").filter { !$0.allSatisfy(\.isWhitespace) }
            var first = String(lines.first ?? "")
            if first.count > width { first = String(first.prefix(width - 3)) + "..." }
            return lines.count > 1 ? first + " (+\(lines.count - 1) lines)" : first
        }
    }
}
