import Foundation
import Testing
import TestSupport

/// The rebuild chain on the three-image toy pipeline, observed through `--progress json`.
@Suite struct RebuildChainTests {
    static let all = ["base/1", "app-base/1", "app-base/2", "app-base/3", "app/1", "app/2"]

    static func statuses(_ steps: [String: String]) -> (built: [String], cached: [String]) {
        (all.filter { steps[$0] == "built" }, all.filter { steps[$0] == "cached" })
    }

    @Test func eachChangeRebuildsExactlyWhatItShould() throws {
        let dir = TemporaryDirectory()
        let project = dir.at("p")
        try BakeCLI.toyProject(at: project)

        // From nothing: everything runs.
        #expect(Self.statuses(try BakeCLI.build(["app"], in: project)).built == Self.all)
        // Nothing changed: nothing runs.
        #expect(Self.statuses(try BakeCLI.build(["app"], in: project)).cached == Self.all)

        // A file of app: only app's changed step and the steps after it.
        try Fixture.write(project + "/images/app/site/index.html", "<h1>new</h1>\n")
        var steps = try BakeCLI.build(["app"], in: project)
        #expect(Self.statuses(steps).built == ["app/1", "app/2"])
        #expect(Self.statuses(steps).cached == ["base/1", "app-base/1", "app-base/2", "app-base/3"])

        // app's last step only.
        try Fixture.write(project + "/images/app/boot.sh", "#!/bin/sh\nexec true\n", mode: 0o755)
        steps = try BakeCLI.build(["app"], in: project)
        #expect(Self.statuses(steps).built == ["app/2"])

        // A file of base (a security update): base, app-base and app.
        try Fixture.write(project + "/images/base/rootfs/etc/os-release", "PRETTY_NAME=\"patched\"\n")
        steps = try BakeCLI.build(["app"], in: project)
        #expect(Self.statuses(steps).built == Self.all)

        // A step's text in app-base: app-base from that step on, then app.
        try Fixture.write(project + "/images/app-base/stage.yaml",
                          (try Fixture.read(project + "/images/app-base/stage.yaml")).replacingOccurrences(of: "remove: [/etc/motd]", with: "remove: [/etc/motd, /etc/os-release]"))
        steps = try BakeCLI.build(["app"], in: project)
        #expect(Self.statuses(steps).built == ["app-base/3", "app/1", "app/2"])

        // Building base alone touches nothing downstream.
        steps = try BakeCLI.build(["base"], in: project)
        #expect(steps == ["base/1": "cached"])
    }

    @Test func earlyCutoffAParentRebuiltIntoTheSameBytesLeavesItsChildrenCached() throws {
        let dir = TemporaryDirectory()
        let project = dir.at("p")
        try BakeCLI.toyProject(at: project)
        let first = try BakeCLI.run(["--progress", "json", "build", "app"], in: project)
        // base rebuilt from nothing: every step runs, and base comes out byte-identical.
        #expect(try BakeCLI.build(["--no-cache", "base"], in: project) == ["base/1": "built"])
        let after = try BakeCLI.run(["--progress", "json", "build", "app"], in: project)
        #expect(Self.statuses(BakeCLI.steps(after.stdout)).cached == Self.all)
        let digests = { (output: String) in
            BakeCLI.events(output).filter { $0["event"] as? String == "image" }.compactMap { $0["digest"] as? String }
        }
        #expect(digests(after.stdout) == digests(first.stdout))
        #expect(digests(first.stdout).count == 3)
    }

    @Test func aNewBuildTimeRebuildsEverything() throws {
        let dir = TemporaryDirectory()
        let project = dir.at("p")
        try BakeCLI.toyProject(at: project)
        _ = try BakeCLI.build(["app"], in: project)
        let steps = try BakeCLI.build(["app"], in: project, environment: ["SOURCE_DATE_EPOCH": "1700000000"])
        #expect(Self.statuses(steps).built == Self.all)
        let noCache = try BakeCLI.build(["--no-cache", "app"], in: project)
        #expect(Self.statuses(noCache).built == Self.all)
    }

    @Test func plainProgressEndsWithTheSummaryTable() throws {
        let dir = TemporaryDirectory()
        let project = dir.at("p")
        try BakeCLI.toyProject(at: project)
        _ = try BakeCLI.build(["app"], in: project)
        try Fixture.write(project + "/images/app/site/index.html", "changed\n")
        let result = try BakeCLI.run(["--progress", "plain", "build", "app"], in: project)
        #expect(result.status == 0)
        let lines = result.stderr.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("IMAGE ") && $0.contains("STEP") && $0.contains("TIME") && $0.contains("SIZE") })
        #expect(lines.contains { $0.hasPrefix("app-base ") && $0.contains("copy etc/ /etc/") && $0.contains("cached") })
        #expect(lines.contains { $0.hasPrefix("app ") && $0.contains("copy site/") && $0.contains(" built ") })
        #expect(lines.contains("2 built, 4 cached in " + (lines.first { $0.hasPrefix("2 built, 4 cached in ") }?.dropFirst(21) ?? "")))
        #expect(lines.contains { $0.hasPrefix("app ") && $0.contains(" (site/index.html changed)") })
        let digests = BakeCLI.digests(result.stdout)
        #expect(digests.count == 3)
        #expect(lines.contains { $0.hasPrefix("app ") && $0.hasSuffix(digests["app"]!) })
    }
}

/// `bake plan` and `bake why` name what changed, and change nothing.
@Suite struct WhyTests {
    @Test func whyNamesTheFileTheStepOrTheBaseThatChanged() throws {
        let dir = TemporaryDirectory()
        let project = dir.at("p")
        try BakeCLI.toyProject(at: project)
        let never = try BakeCLI.run(["why", "app"], in: project)
        #expect(never.stdout.hasPrefix("base step 1 (copy rootfs/ /) is rebuilt (it was never built): never built"), "\(never.stdout)")
        _ = try BakeCLI.build(["app"], in: project)
        #expect(try BakeCLI.run(["why", "app"], in: project).stdout.hasPrefix("app is up to date: all 2 steps are cache hits"))

        try Fixture.write(project + "/images/app/site/assets/site.css", "body { color: red }\n")
        try Fixture.write(project + "/images/app/site/assets/new.js", "x\n")
        let files = try BakeCLI.run(["why", "app"], in: project)
        #expect(files.stdout.contains("app step 1 (copy site/ /srv/app/current/ owner=app:app) is rebuilt since its build #1"))
        #expect(files.stdout.contains(": site/assets/new.js was added (and 1 more)\n  site/assets/site.css changed\n"), "\(files.stdout)")

        try Fixture.write(project + "/images/app/stage.yaml",
                          (try Fixture.read(project + "/images/app/stage.yaml")).replacingOccurrences(of: "to: /srv/app/current/", with: "to: /srv/app/www/"))
        let text = try BakeCLI.run(["why", "app"], in: project)
        #expect(text.stdout.contains("the step changed: copy owner=app:app source=site to=/srv/app/current/ -> copy owner=app:app source=site to=/srv/app/www/"), "\(text.stdout)")
        _ = try BakeCLI.build(["app"], in: project)

        // app-base rebuilt on its own: app's base changed from one digest to another.
        let before = try #require(BakeCLI.digests(try BakeCLI.run(["build", "app-base"], in: project).stdout)["app-base"])
        try Fixture.write(project + "/images/app-base/etc/group", "root:x:0:\napp:x:10001:\nweb:x:10002:\n")
        let after = try #require(BakeCLI.digests(try BakeCLI.run(["build", "app-base"], in: project).stdout)["app-base"])
        let base = try BakeCLI.run(["why", "app"], in: project)
        let short = { (digest: String) in String(digest.dropFirst("sha256:".count).prefix(12)) }
        #expect(base.stdout.contains("its base image app-base changed (\(short(before)) -> \(short(after)))"), "\(base.stdout)")

        // Neither plan nor why wrote anything.
        let marker = dir.at("marker")
        try Fixture.write(marker, "")
        sleep(1)
        _ = try BakeCLI.run(["plan", "app"], in: project)
        _ = try BakeCLI.run(["why", "app"], in: project)
        let written = try Command.shell("find '\(project)/.bake' -newer '\(marker)'").stdout
        #expect(written.isEmpty, "\(written)")
    }

    @Test func planSaysHitOrBuildWithTheReason() throws {
        let dir = TemporaryDirectory()
        let project = dir.at("p")
        try BakeCLI.toyProject(at: project)
        _ = try BakeCLI.build(["app"], in: project)
        try Fixture.write(project + "/images/app-base/etc/passwd", "root:x:0:0::/root:/bin/sh\napp:x:10001:10001::/srv/app:/sbin/nologin\n")
        let plan = try BakeCLI.run(["plan", "app"], in: project)
        let lines = plan.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("  1. HIT    copy rootfs/ /  [") })
        #expect(lines.contains("  1. BUILD  copy etc/ /etc/  (etc/passwd changed)"))
        #expect(lines.contains("  2. BUILD  copy app-home/ /srv/app/ owner=app:app  (after step 1 is built)"))
        #expect(lines.contains("  1. BUILD  copy site/ /srv/app/current/ owner=app:app  (after app-base is built)"))
        #expect(lines.contains { $0.hasPrefix("  up to date: sha256:") })
    }
}
