import Foundation
import Testing
import TestSupport

/// bake.lock, `build --locked`, `update`, `outdated`, `history` and the source metadata.
@Suite(.enabled(if: Host.canRun(tools: ["curl", "git"]), "needs curl (file:// mirror) and git"))
struct LockTests {
    static func lock(_ project: String) throws -> [String: Any] {
        let text = try Fixture.read(project + "/bake.lock")
        return try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    static func entry(_ project: String, _ image: String) throws -> [String: Any] {
        let images = try #require(try lock(project)["images"] as? [String: Any])
        return try #require(images[image] as? [String: Any])
    }

    @Test func aBuildRecordsEveryImageAndAnUnchangedBuildLeavesTheLockAlone() throws {
        let dir = TemporaryDirectory()
        let project = dir.at("p")
        try BakeCLI.toyProject(at: project)
        let built = try BakeCLI.run(["build", "app"], in: project)
        #expect(built.status == 0, "\(built.stderr)")
        let digests = BakeCLI.digests(built.stdout)
        for name in ["base", "app-base", "app"] {
            let entry = try Self.entry(project, name)
            #expect(entry["manifest"] as? String == digests[name])
            let inspect = try BakeCLI.run(["inspect", name, "--json"], in: project)
            let report = try #require(try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any])
            let layers = try #require(report["layers"] as? [[String: Any]])
            let locked = try #require(entry["layers"] as? [[String: Any]])
            #expect(locked.map { $0["digest"] as? String } == layers.map { $0["digest"] as? String })
            #expect(locked.map { $0["diffID"] as? String } == layers.map { $0["diffID"] as? String })
        }
        let before = try Fixture.read(project + "/bake.lock")
        #expect(try BakeCLI.run(["build", "app"], in: project).status == 0)
        #expect(try Fixture.read(project + "/bake.lock") == before)
        #expect(try BakeCLI.run(["build", "--locked", "app"], in: project).status == 0)
    }

    @Test func lockedCatchesAChangedResultAndChangesNothing() throws {
        let dir = TemporaryDirectory()
        let project = dir.at("p")
        try BakeCLI.toyProject(at: project)
        let built = try BakeCLI.run(["build", "app"], in: project)
        let app = try #require(BakeCLI.digests(built.stdout)["app"])
        let lock = try Fixture.read(project + "/bake.lock")

        try Fixture.write(project + "/images/app/site/index.html", "<h1>changed</h1>\n")
        let result = try BakeCLI.run(["build", "--locked", "app"], in: project)
        #expect(result.status == 1)
        #expect(result.stderr.contains("app differs from bake.lock (--locked): layer 5 (step 1: copy site/ /srv/app/current/"))
        #expect(result.stderr.contains("bake.lock has sha256:"))
        // Neither the lock nor the image's name moved.
        #expect(try Fixture.read(project + "/bake.lock") == lock)
        let inspect = try BakeCLI.run(["inspect", "app", "--json"], in: project)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any])
        #expect(report["digest"] as? String == app)
        // Without --locked the new result is accepted into the lock.
        #expect(try BakeCLI.run(["build", "app"], in: project).status == 0)
        #expect(try Fixture.read(project + "/bake.lock") != lock)

        // --locked without a lock entry at all.
        try FileManager.default.removeItem(atPath: project + "/bake.lock")
        let missing = try BakeCLI.run(["build", "--locked", "app"], in: project)
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("the project has no bake.lock"))
    }

    /// A Debian mirror that is only a release file, for the pins (no package is fetched).
    static func mirror(at path: String, date: String) throws {
        try Fixture.write(path + "/dists/fake/InRelease", """
            Origin: Debian
            Suite: fake
            Date: \(date)

            """)
    }

    @Test func outdatedAndUpdateFollowAMovedUpstream() throws {
        let dir = TemporaryDirectory()
        let project = dir.at("p")
        let mirror = dir.at("mirror")
        try Self.mirror(at: mirror, date: "Sat, 10 Jun 2023 08:52:55 UTC")
        try Fixture.mkdir(project + "/images")
        try Fixture.write(project + "/images/os/stage.yaml", "from: {debian: {suite: fake, variant: minbase, mirror: \"file://\(mirror)\"}}\n")
        try Fixture.write(project + "/images/runtime/stage.yaml", "from: os\n")
        try Fixture.write(project + "/images/other/stage.yaml", "from: scratch\n")

        let unpinned = try BakeCLI.run(["outdated"], in: project)
        #expect(unpinned.status == 0)
        #expect(unpinned.stdout.contains("os: debian fake from file://\(mirror) is not pinned in bake.lock yet"))

        let pinned = try BakeCLI.run(["update"], in: project)
        #expect(pinned.status == 0, "\(pinned.stderr)")
        #expect(pinned.stdout.contains("os: pinned debian fake"))
        let first = try #require(try Self.entry(project, "os")["upstream"] as? [String: String])
        #expect(first["debian.date"] == "2023-06-10T08:52:55Z")
        #expect(first["debian.release"]?.hasPrefix("sha256:") == true)

        let current = try BakeCLI.run(["outdated"], in: project)
        #expect(current.stdout.contains("os: up to date"))

        // The pin is used as it is: with the mirror gone, a plan still knows the release.
        try FileManager.default.moveItem(atPath: mirror, toPath: mirror + ".away")
        #expect(try BakeCLI.run(["plan", "runtime"], in: project).status == 0)
        try FileManager.default.moveItem(atPath: mirror + ".away", toPath: mirror)

        // A new release upstream.
        try Self.mirror(at: mirror, date: "Sat, 07 Oct 2023 09:00:00 UTC")
        let outdated = try BakeCLI.run(["outdated"], in: project)
        #expect(outdated.status == 0)
        #expect(outdated.stdout.contains("os: outdated: debian fake from file://\(mirror) serves InRelease"))
        #expect(outdated.stdout.contains("(2023-10-07T09:00:00Z), bake.lock pins InRelease"))
        #expect(outdated.stdout.contains("affects os, runtime;"))
        #expect(!outdated.stdout.contains("other"))
        let json = try BakeCLI.run(["outdated", "--json"], in: project)
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        #expect(rows.count == 1)
        #expect(rows.first?["outdated"] as? Bool == true)
        #expect(rows.first?["affects"] as? [String] == ["os", "runtime"])
        // outdated wrote nothing.
        #expect(try Self.entry(project, "os")["upstream"] as? [String: String] == first)

        // A build keeps the pin and says how to move it.
        let build = try BakeCLI.run(["build", "os"], in: project)
        #expect(build.status == 1)
        #expect(build.stderr.contains("bake.lock pins Debian fake at InRelease"))
        #expect(build.stderr.contains("run 'bake update os'"))

        let moved = try BakeCLI.run(["update", "runtime"], in: project)
        #expect(moved.stdout.contains("os: debian fake from file://\(mirror) moved from InRelease"))
        #expect(moved.stdout.contains("rebuilt by the next 'bake build': os, runtime"))
        let second = try #require(try Self.entry(project, "os")["upstream"] as? [String: String])
        #expect(second["debian.date"] == "2023-10-07T09:00:00Z")
        #expect(second["debian.release"] != first["debian.release"])
        #expect(try BakeCLI.run(["outdated"], in: project).stdout.contains("os: up to date"))
    }

    @Test func historyListsPastBuildsAndAPastBuildCanBeExportedAgain() throws {
        let dir = TemporaryDirectory()
        let project = dir.at("p")
        try BakeCLI.toyProject(at: project)
        let first = try #require(BakeCLI.digests(try BakeCLI.run(["build", "app"], in: project).stdout)["app"])
        try Fixture.write(project + "/images/app/site/index.html", "<h1>v2</h1>\n")
        let second = try #require(BakeCLI.digests(try BakeCLI.run(["build", "app"], in: project).stdout)["app"])
        #expect(first != second)

        let history = try BakeCLI.run(["history", "app"], in: project)
        #expect(history.status == 0)
        let lines = history.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        #expect(lines[0].hasPrefix("app@2 ") && lines[0].contains(second) && lines[0].contains("current"))
        #expect(lines[1].hasPrefix("app@1 ") && lines[1].contains(first) && !lines[1].contains("current"))

        // Rollback: build 1 exported again, by number and by digest.
        let layout = dir.at("layout")
        #expect(try BakeCLI.run(["export", "app@1", "--format", "oci", "--output", layout], in: project).status == 0)
        let index = try Fixture.read(layout + "/index.json")
        #expect(index.contains(first) && !index.contains(second))
        #expect(index.contains("\"org.opencontainers.image.ref.name\":\"app\""))
        let inspect = try BakeCLI.run(["inspect", "app@\(first)", "--json"], in: project)
        #expect(inspect.status == 0)
        #expect(inspect.stdout.contains(first))
        let unknown = try BakeCLI.run(["inspect", "app@9"], in: project)
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("the store has no build app@9"))
    }

    @Test func imagesCarryTheirSourceAndANewCommitLeavesEveryLayerCached() throws {
        let dir = TemporaryDirectory()
        let project = dir.at("p")
        try BakeCLI.toyProject(at: project)
        let git = { (arguments: [String]) throws -> String in
            let result = try Command.run(["git", "-C", project, "-c", "user.name=t", "-c", "user.email=t@example.com"] + arguments)
            guard result.status == 0 else { throw FixtureError("git \(arguments) failed: \(result.stderr)") }
            return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        _ = try git(["init", "-q"])
        _ = try git(["remote", "add", "origin", "https://user:secret@git.example.com/team/app.git"])
        _ = try git(["add", "images"])
        _ = try git(["commit", "-q", "-m", "one"])
        _ = try git(["tag", "v1.0.0"])
        let head = try git(["rev-parse", "HEAD"])
        #expect(try BakeCLI.build(["app"], in: project).values.allSatisfy { $0 == "built" })

        let labels = { () throws -> [String: String] in
            let inspect = try BakeCLI.run(["inspect", "app", "--json"], in: project)
            let report = try #require(try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any])
            let config = try #require((report["config"] as? [String: Any])?["config"] as? [String: Any])
            return try #require(config["Labels"] as? [String: String])
        }
        var found = try labels()
        #expect(found["org.opencontainers.image.revision"] == head)
        #expect(found["org.opencontainers.image.source"] == "https://git.example.com/team/app.git")
        #expect(found["org.opencontainers.image.version"] == "v1.0.0")
        #expect(found["org.opencontainers.image.created"] == "1970-01-01T00:00:00Z")
        #expect(found["org.opencontainers.image.base.name"] == "app-base")
        // The manifest carries the same as annotations.
        let indexText = try Fixture.read(project + "/.bake/oci/index.json")
        let index = try #require(try JSONSerialization.jsonObject(with: Data(indexText.utf8)) as? [String: Any])
        let entries = try #require(index["manifests"] as? [[String: Any]])
        let appEntry = try #require(entries.first { ($0["annotations"] as? [String: String])?["org.opencontainers.image.ref.name"] == "app" })
        let digest = try #require((appEntry["digest"] as? String)?.dropFirst("sha256:".count))
        let manifestText = try Fixture.read(project + "/.bake/oci/blobs/sha256/\(digest)")
        #expect(manifestText.contains("\"org.opencontainers.image.revision\":\"\(head)\""))
        #expect(manifestText.contains("\"org.opencontainers.image.base.name\":\"app-base\""))

        // bake.lock written by the build does not make the tree dirty.
        #expect(try BakeCLI.build(["app"], in: project).values.allSatisfy { $0 == "cached" })
        #expect(try labels()["org.opencontainers.image.revision"] == head)

        // A new commit that changes no input: new revision, every layer from the cache.
        try Fixture.write(project + "/README", "notes\n")
        _ = try git(["add", "README"])
        _ = try git(["commit", "-q", "-m", "two"])
        let steps = try BakeCLI.build(["app"], in: project)
        #expect(!steps.isEmpty && steps.values.allSatisfy { $0 == "cached" })
        found = try labels()
        #expect(found["org.opencontainers.image.revision"] == (try git(["rev-parse", "HEAD"])))
        #expect(found["org.opencontainers.image.version"] == nil)

        // An uncommitted change: no revision. BAKE_REVISION overrides.
        try Fixture.write(project + "/README", "dirty\n")
        _ = try BakeCLI.build(["app"], in: project)
        #expect(try labels()["org.opencontainers.image.revision"] == nil)
        _ = try BakeCLI.build(["app"], in: project, environment: ["BAKE_REVISION": "abc123"])
        #expect(try labels()["org.opencontainers.image.revision"] == "abc123")
    }
}
