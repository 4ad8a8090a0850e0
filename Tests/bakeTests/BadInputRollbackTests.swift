import Foundation
import Testing
import TestSupport

/// Bad input found only while building (exit 2) changes nothing in the store (issue 14,
/// item 12): no layer, blob, cache entry, input listing, stat cache, record or unpacked
/// layer is left of it, and the index is as it was.
@Suite struct BadInputRollbackTests {
    /// Every file and folder of the store but its lock and scratch area, with a digest of
    /// each file's bytes: two equal snapshots mean the store did not change.
    static func snapshot(_ project: String) throws -> [String] {
        let result = try Command.shell("""
            cd "$STORE" && find . \\( -path ./tmp -o -path ./lock \\) -prune -o -print | LC_ALL=C sort | while read -r p; do
              if [ -f "$p" ] && [ ! -L "$p" ]; then echo "$p $(sha256sum < "$p" | cut -c1-64)"; else echo "$p"; fi
            done
            """, environment: ["STORE": project + "/.bake", "PATH": "/usr/bin:/bin"])
        guard result.status == 0 else { throw FixtureError("snapshot: \(result.stderr)") }
        return result.stdout.split(separator: "\n").map(String.init)
    }

    static func expectUnchanged(_ before: [String], _ after: [String], _ what: String) {
        let added = after.filter { !before.contains($0) }
        let gone = before.filter { !after.contains($0) }
        #expect(added.isEmpty && gone.isEmpty, "\(what): added \(added), removed \(gone)")
    }

    @Test(arguments: [
        // A copy step whose owner only the image below could name: found after step 1 built.
        ("unknown owner", "  - copy: new/\n    to: /srv/new/\n  - copy: more/\n    to: /srv/more/\n    owner: ghost\n", ""),
        // A path to remove that the image below does not have.
        ("nothing to remove", "  - copy: new/\n    to: /srv/new/\n  - remove: [/no/such/path]\n", ""),
        // A check's user that the finished image does not have.
        ("check user", "  - copy: new/\n    to: /srv/new/\n", "checks:\n  - run: \"true\"\n    user: ghost\n"),
    ])
    func aBuildStoppedForBadInputLeavesTheStoreAsItWas(_ what: String, _ steps: String, _ checks: String) throws {
        let dir = TemporaryDirectory("bake-rollback")
        let project = dir.at("p")
        try BakeCLI.toyProject(at: project)
        #expect(try BakeCLI.run(["build", "app"], in: project).status == 0)
        let before = try Self.snapshot(project)
        try Fixture.write(project + "/images/extra/stage.yaml", "from: app\nsteps:\n\(steps)\(checks)")
        try Fixture.write(project + "/images/extra/new/page.html", "<p>new</p>\n")
        try Fixture.write(project + "/images/extra/more/other.html", "<p>more</p>\n")
        let refused = try BakeCLI.run(["build", "extra"], in: project)
        #expect(refused.status == 2, "\(what): \(refused.stderr)")
        #expect(refused.stderr.contains("ghost") || refused.stderr.contains("/no/such/path"), "\(refused.stderr)")
        Self.expectUnchanged(before, try Self.snapshot(project), what)
        // Corrected, it builds (nothing of the refused build was kept to get in the way).
        try Fixture.write(project + "/images/extra/stage.yaml", "from: app\nsteps:\n  - copy: new/\n    to: /srv/new/\n")
        #expect(try BakeCLI.run(["build", "extra"], in: project).status == 0)
        #expect(try BakeCLI.run(["fsck"], in: project).status == 0)
    }

    @Test func aFirstBuildStoppedForBadInputLeavesAnEmptyStore() throws {
        let dir = TemporaryDirectory("bake-rollback")
        let project = dir.at("p")
        try Fixture.write(project + "/images/x/stage.yaml", "from: scratch\nsteps:\n  - copy: f\n    to: /f\n  - remove: [/nope]\n")
        try Fixture.write(project + "/images/x/f", "f\n")
        let refused = try BakeCLI.run(["build", "x"], in: project)
        #expect(refused.status == 2, "\(refused.stderr)")
        let blobs = (try? FileManager.default.contentsOfDirectory(atPath: project + "/.bake/oci/blobs/sha256")) ?? []
        #expect(blobs.isEmpty, "\(blobs)")
        #expect(!FileManager.default.fileExists(atPath: project + "/.bake/cache"))
        #expect(!FileManager.default.fileExists(atPath: project + "/.bake/builds"))
        #expect(!FileManager.default.fileExists(atPath: project + "/bake.lock"))
    }

    @Test(.enabled(if: Host.canRun(tools: ["busybox"], root: true)))
    func aBuildThatFailsForAnotherReasonKeepsWhatItBuilt() throws {
        // Exit 1 (a command failed) is not bad input: the steps that did build stay cached.
        let dir = TemporaryDirectory("bake-rollback")
        let project = dir.at("p")
        try BusyboxProject.write(at: project, images: ["x": "from: tools\nsteps:\n  - copy: f\n    to: /f\n  - run: exit 3\n"])
        try Fixture.write(project + "/images/x/f", "f\n")
        let failed = try BakeCLI.run(["--progress", "json", "build", "x"], in: project)
        #expect(failed.status == 1, "\(failed.stderr)")
        try Fixture.write(project + "/images/x/stage.yaml", "from: tools\nsteps:\n  - copy: f\n    to: /f\n  - run: exit 0\n")
        let steps = try BakeCLI.build(["x"], in: project)
        #expect(steps["tools/1"] == "cached" && steps["x/1"] == "cached" && steps["x/2"] == "built", "\(steps)")
    }
}
