import Foundation
import Testing
import TestSupport

/// `bake plan` and `bake build` walk the same code: the digest a plan predicts is the digest
/// the build then names, for images with copy and run steps, before and after a change to
/// the image they are built on.
@Suite(.enabled(if: Host.canRun(tools: ["busybox"], root: true)))
struct PlanPredictionTests {
    /// The digests `bake plan` says the images are ("up to date: sha256:..."), by image.
    static func predicted(_ project: String) throws -> [String: String] {
        let plan = try BakeCLI.run(["plan", "app"], in: project)
        guard plan.status == 0 else { throw FixtureError("bake plan failed: \(plan.stderr)") }
        var result: [String: String] = [:]
        var image: String?
        for line in plan.stdout.split(separator: "\n") {
            if !line.hasPrefix(" ") { image = line.split(separator: " ").first.map(String.init) }
            if line.hasPrefix("  up to date: "), let image { result[image] = String(line.dropFirst("  up to date: ".count)) }
        }
        return result
    }

    static func build(_ project: String) throws -> [String: String] {
        let build = try BakeCLI.run(["build", "app"], in: project)
        guard build.status == 0 else { throw FixtureError("bake build failed: \(build.stderr)") }
        return BakeCLI.digests(build.stdout)
    }

    @Test func thePlansDigestIsTheBuildsBeforeAndAfterTheBaseChanges() throws {
        let dir = TemporaryDirectory()
        let project = dir.at("p")
        try BusyboxProject.write(at: project, images: [
            "app": """
                from: tools
                steps:
                  - copy: site/
                    to: /srv/site/
                  - run: |
                      cat /srv/site/index.html /etc/old > /srv/built.txt
                      mkdir -p /var/app && echo ready > /var/app/state
                  - copy: boot.sh
                    to: /usr/local/bin/boot
                config:
                  cmd: [/usr/local/bin/boot]

                """,
        ])
        try Fixture.write(project + "/images/app/site/index.html", "<h1>hello</h1>\n")
        try Fixture.write(project + "/images/app/boot.sh", "#!/bin/sh\nexec cat /srv/built.txt\n", mode: 0o755)

        // Nothing built: nothing to predict.
        #expect(try Self.predicted(project).isEmpty)
        let first = try Self.build(project)
        #expect(first.keys.sorted() == ["app", "tools"])
        #expect(try Self.predicted(project) == first)

        // The base changes (a security update in tools): the plan predicts nothing until it
        // is built, then exactly what the build made.
        try Fixture.write(project + "/images/tools/rootfs/etc/old", "patched\n")
        #expect(try Self.predicted(project).isEmpty)
        let second = try Self.build(project)
        #expect(second["tools"] != first["tools"])
        #expect(second["app"] != first["app"])
        #expect(try Self.predicted(project) == second)
    }

    /// A change, a build, then the change reverted: every step is a cache hit again, but the
    /// store still names the changed build, which push, run and export would ship. plan and
    /// why say the image is out of date, and the digest plan predicts is what build names.
    @Test func afterARevertTheImageIsOutOfDateUntilACachedBuildNamesItAgain() throws {
        let dir = TemporaryDirectory()
        let project = dir.at("p")
        try BusyboxProject.write(at: project, images: [
            "app": "from: tools\nsteps:\n  - copy: site/\n    to: /srv/site/\n",
        ])
        try Fixture.write(project + "/images/app/site/app.css", "body { color: black }\n")
        let original = try Self.build(project)
        try Fixture.write(project + "/images/app/site/app.css", "body { color: red }\n")
        let changed = try Self.build(project)
        #expect(changed["app"] != original["app"])
        try Fixture.write(project + "/images/app/site/app.css", "body { color: black }\n")

        let plan = try BakeCLI.run(["plan", "app"], in: project)
        #expect(plan.status == 0)
        let app = try #require(original["app"]), named = try #require(changed["app"])
        #expect(plan.stdout.contains("  out of date: the store names \(named); a build (every step cached) names \(app)"), "\(plan.stdout)")
        #expect(!plan.stdout.contains("up to date: \(app)"))
        let why = try BakeCLI.run(["why", "app"], in: project)
        #expect(why.stdout.hasPrefix("app is out of date: "), "\(why.stdout)")
        #expect(why.stdout.contains("the store names \(named)") && why.stdout.contains("names \(app) again"), "\(why.stdout)")

        // The cached build names the predicted image; then everything is up to date.
        let steps = try BakeCLI.build(["app"], in: project)
        #expect(steps.values.allSatisfy { $0 == "cached" }, "\(steps)")
        #expect(try Self.predicted(project) == original)
        #expect(try BakeCLI.run(["why", "app"], in: project).stdout.hasPrefix("app is up to date: its one step is a cache hit"))

        // Only the config changes: every step is a hit, and why names the change, not a revert.
        try Fixture.write(project + "/images/app/stage.yaml", "from: tools\nsteps:\n  - copy: site/\n    to: /srv/site/\nconfig:\n  env: {Y: \"1\"}\n")
        let config = try BakeCLI.run(["why", "app"], in: project).stdout
        #expect(config.hasPrefix("app is out of date: every step is a cache hit, but its image config changed since the store names \(app)"), "\(config)")
        #expect(config.contains("Y=1") && !config.contains("again"), "\(config)")
    }
}
