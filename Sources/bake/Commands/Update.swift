import ArgumentParser
import OCI
import Pipeline

extension Bake {
    struct Update: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move the external pins in bake.lock to what upstream serves now.",
            discussion: """
                bake.lock pins each external upstream an image is built from (today: the \
                InRelease file of a Debian suite, by sha256, and the digest a registry tag of \
                'from: {image: HOST/REPO:TAG}' names). Builds use the pin and never move \
                it; this command re-resolves the pins of IMAGE and the images it is built on \
                (every image when none is named) and writes bake.lock. An image whose pin \
                moved, and every image built on it, loses its recorded result in bake.lock: the \
                next 'bake build' rebuilds them and records the new results. Exits 0.

                EXAMPLES:
                  bake outdated                 see what has a newer upstream
                  bake update base && bake build app
                """
        )

        @OptionGroup var global: GlobalOptions

        @Argument(help: "Images whose pins to move (with the images they are built on; default: every image).")
        var images: [String] = []

        @Flag(help: "Print JSON instead of text.")
        var json = false

        func run() throws {
            let workspace = try global.workspace()
            let project = try workspace.loadProject()
            let statuses = try Upstreams.update(workspace: workspace, project: project, targets: images, access: global.registryAccess())
            if json {
                print(String(decoding: try CanonicalJSON.encodePretty(statuses), as: UTF8.self))
                return
            }
            if statuses.isEmpty { print("no image of \(images.isEmpty ? "the project" : images.joined(separator: ", ")) has an external upstream to pin") }
            for status in statuses {
                if status.isUnpinned {
                    print("\(status.image): pinned \(status.upstream) at \(UpstreamStatus.summary(status.current))")
                } else if status.isOutdated {
                    print("\(status.image): \(status.upstream) moved from \(UpstreamStatus.summary(status.pinned)) to \(UpstreamStatus.summary(status.current))")
                    print("  rebuilt by the next 'bake build': \(status.affects.joined(separator: ", "))")
                } else {
                    print("\(status.image): \(status.upstream) is current at \(UpstreamStatus.summary(status.current))")
                }
            }
        }
    }

    struct Outdated: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Say which images have a newer upstream than bake.lock pins.",
            discussion: """
                Asks each external upstream (the InRelease file of a Debian suite) what it \
                serves now and compares it with the pin in bake.lock. For an image whose \
                upstream moved, names the pinned and the current release and every image \
                downstream that 'bake update' followed by 'bake build' would rebuild. Writes \
                nothing. Exits 0 (also when something is outdated); use --json in CI.

                EXAMPLES:
                  bake outdated
                  bake outdated --json | jq -r '.[] | select(.outdated) | .image'
                """
        )

        @OptionGroup var global: GlobalOptions

        @Argument(help: "Images to check (with the images they are built on; default: every image).")
        var images: [String] = []

        @Flag(help: "Print JSON instead of text.")
        var json = false

        struct Row: Encodable {
            var image: String
            var upstream: String
            var pinned: [String: String]?
            var current: [String: String]
            var outdated: Bool
            var affects: [String]
        }

        func run() throws {
            let workspace = try global.workspace()
            let project = try workspace.loadProject()
            let statuses = try Upstreams.check(workspace: workspace, project: project, targets: images, access: global.registryAccess())
            if json {
                let rows = statuses.map {
                    Row(image: $0.image, upstream: $0.upstream, pinned: $0.pinned, current: $0.current, outdated: $0.isOutdated, affects: $0.affects)
                }
                print(String(decoding: try CanonicalJSON.encodePretty(rows), as: UTF8.self))
                return
            }
            if statuses.isEmpty { print("no image of \(images.isEmpty ? "the project" : images.joined(separator: ", ")) has an external upstream") }
            for status in statuses {
                if status.isUnpinned {
                    print("\(status.image): \(status.upstream) is not pinned in bake.lock yet (now \(UpstreamStatus.summary(status.current))); 'bake build' or 'bake update' pins it")
                } else if status.isOutdated {
                    print("\(status.image): outdated: \(status.upstream) serves \(UpstreamStatus.summary(status.current)), bake.lock pins \(UpstreamStatus.summary(status.pinned))")
                    print("  affects \(status.affects.joined(separator: ", ")); run 'bake update \(status.image)' then 'bake build' to move on")
                } else {
                    print("\(status.image): up to date: \(status.upstream) at \(UpstreamStatus.summary(status.current))")
                }
            }
        }
    }
}
