import ArgumentParser
import Foundation
import OCI
import Pipeline

extension Bake {
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rebuild from nothing in a changed environment and prove the same bytes come out.",
            discussion: """
                Rebuilds IMAGE and every image it is built on (every image when none is named) \
                with no cache, into a new temporary store, from a copy of images/ at another \
                path, with other file times and creation order, another umask, time zone, \
                locale, hostname, compression thread count and job count. Then compares every \
                level with the last build of the store (or, for an image the store has not \
                built, with bake.lock): each layer's digest and diffID, the config, the manifest.

                Same bytes: prints one line per image with its digest and exits 0.
                Different: exits 1 and names the first image and step whose layer differs, \
                then that layer's files: added, removed, or changed with the attribute that \
                differs (content sha256, size, mode, uid/gid, mtime, link target, xattrs), a \
                unified diff of small text files, and the known cause and fix when the path \
                matches one (logs, caches, .pyc, machine-id, timestamps written by a tool). \
                Config and manifest differences are shown as JSON paths.

                The rebuild uses the SOURCE_DATE_EPOCH, revision and Debian release pin of the \
                build it is compared with. Secrets the steps need are given as for build.

                EXAMPLES:
                  bake verify app
                  # every image, a report for CI
                  bake verify --json > verify.json
                  # also run diffoscope on the differing files
                  bake verify app --diffoscope
                """
        )

        @OptionGroup var global: GlobalOptions

        @Argument(help: "Images to verify (default: every image in images/).")
        var images: [String] = []

        @Flag(help: "Print the report as JSON on stdout.")
        var json = false

        @Flag(help: "Run diffoscope (Debian: diffoscope-minimal) on the differing files.")
        var diffoscope = false

        @Flag(help: "Keep the verification store and project copy, and print where they are.")
        var keep = false

        @Option(name: .customLong("secret"), help: ArgumentHelp(
            "A secret for steps that list it, as for build: id=NAME,env=VARIABLE or id=NAME,src=FILE.", valueName: "SPEC"))
        var secretSpecs: [String] = []

        @OptionGroup var ceiling: CeilingOptions

        func run() throws {
            let workspace = try global.workspace()
            let project = try workspace.loadProject()
            // Checked here so a wrong spec is reported before anything is rebuilt.
            _ = try SecretSpec.load(secretSpecs, environment: ProcessInfo.processInfo.environment)
            _ = try ceiling.ceiling()
            let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
            var options = VerifyOptions(
                targets: images, executable: executable, secretArguments: secretSpecs,
                progress: global.progress == .json ? "plain" : global.progress.rawValue, keep: keep, diffoscope: diffoscope,
                environment: ProcessInfo.processInfo.environment)
            options.insecureRegistries = global.insecureRegistries
            options.buildArguments = ceiling.arguments
            let report = try Verifier(workspace: workspace, project: project, options: options).run { line in
                Console.standardError("bake: " + line)
            }
            if json {
                print(String(decoding: try CanonicalJSON.encodePretty(report), as: UTF8.self))
            } else {
                for line in VerifyText.lines(report) { print(line) }
            }
            if !report.reproducible { throw ExitCode(1) }
        }
    }
}

/// The text form of a verify report.
enum VerifyText {
    static func lines(_ report: VerifyReport) -> [String] {
        var lines: [String] = []
        let width = report.images.map(\.name.count).max() ?? 0
        for image in report.images {
            let name = image.name.padding(toLength: width, withPad: " ", startingAt: 0)
            if image.reproducible {
                lines.append("\(name)  \(image.rebuilt)  reproduced (same bytes as \(image.reference))")
            } else {
                lines.append("\(name)  \(image.rebuilt)  DIFFERS from \(image.reference) \(image.expected)")
            }
        }
        if let kept = report.kept { lines.append("kept the verification store and project copy in \(kept)") }
        guard let difference = report.difference else { return lines }
        lines.append("")
        var headline = "first difference: \(difference.image)"
        if let step = difference.step {
            headline += step == 0 ? ", its base layer" : ", step \(step)"
            if let summary = difference.stepSummary { headline += " (\(summary))" }
        }
        if let layer = difference.layer { headline += ", layer \(layer)" }
        lines.append(headline)
        if let expected = difference.expected { lines.append("  expected  \(expected.digest) (diffID \(expected.diffID))") }
        if let rebuilt = difference.rebuilt { lines.append("  rebuilt   \(rebuilt.digest) (diffID \(rebuilt.diffID))") }
        if let expected = difference.expected, let rebuilt = difference.rebuilt, expected.diffID == rebuilt.diffID {
            lines.append("  the files are the same (same diffID); only the compressed bytes differ: a different zlib?")
        }
        if let reason = difference.filesUnavailable { lines.append("  \(reason)") }
        for file in difference.files {
            var line = "  \(file.change.rawValue) \(file.path)"
            if file.change == .changed {
                line += ": " + file.attributes.map { "\($0.attribute) \($0.before) -> \($0.after)" }.joined(separator: "; ")
            }
            lines.append(line)
            if let diff = file.diff {
                lines += diff.map { "      " + $0 }
            } else if file.change != .changed, let content = file.after ?? file.before {
                lines += content.split(separator: "\n", omittingEmptySubsequences: false).prefix(10).map { "      | " + $0 }
            }
            if let cause = file.cause {
                lines.append("      cause: \(cause.name)")
                lines.append("      fix: \(cause.fix)")
            }
            if let output = difference.diffoscope?[file.path] {
                lines += output.split(separator: "\n", omittingEmptySubsequences: false).map { "      " + $0 }
            }
        }
        if difference.filesTotal > difference.files.count {
            lines.append("  ... and \(difference.filesTotal - difference.files.count) more paths differ")
        }
        if !difference.config.isEmpty {
            lines.append("  config differences:")
            lines += difference.config.map { "    " + $0 }
        }
        if difference.layer == nil && !difference.manifest.isEmpty {
            lines.append("  manifest differences:")
            lines += difference.manifest.map { "    " + $0 }
        }
        let failed = report.images.filter { !$0.reproducible }.count
        lines.append("")
        lines.append("verify: \(failed) of \(report.images.count) images differ; they are not reproducible in a changed environment")
        return lines
    }
}
