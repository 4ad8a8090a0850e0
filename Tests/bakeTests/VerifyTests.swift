import Foundation
import Testing
import TestSupport

/// `bake verify`: a rebuild from nothing in a changed environment, compared level by level.
@Suite(.enabled(if: Host.canRun(tools: ["busybox"], root: true), "needs root (sandbox) and busybox-static"))
struct VerifyTests {
    /// Runs `bake verify ARGS` and returns its result.
    static func verify(_ arguments: [String], in project: String) throws -> CommandResult {
        try BakeCLI.run(["verify"] + arguments, in: project)
    }

    /// Waits until the wall clock's second differs from `second`: a step that writes the
    /// time must see another second in the rebuild than in the build.
    static func waitForTheNextSecond(after second: Int) {
        while Int(Date().timeIntervalSince1970) <= second { usleep(20_000) }
    }

    @Test func theExamplePipelineIsReproducible() throws {
        let dir = TemporaryDirectory()
        let project = dir.at("p")
        try BakeCLI.toyProject(at: project)
        let built = try BakeCLI.run(["build", "app"], in: project)
        #expect(built.status == 0, "\(built.stderr)")
        let digests = BakeCLI.digests(built.stdout)
        let scratch = dir.at("tmp")
        try Fixture.mkdir(scratch)
        let result = try BakeCLI.run(["verify", "app"], in: project, environment: ["TMPDIR": scratch])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        for name in ["base", "app-base", "app"] {
            let line = try #require(lines.first { $0.hasPrefix(name + " ") })
            #expect(line.contains(try #require(digests[name])))
            #expect(line.contains("reproduced (same bytes as build #1)"))
        }
        // The rebuild really ran elsewhere, in a changed environment, and left nothing behind.
        #expect(result.stderr.contains("umask 0077"))
        #expect(result.stderr.contains("hostname bake-verify-elsewhere"))
        #expect(result.stderr.contains("from nothing in \(scratch)/bake-verify-"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch).isEmpty)
        // --keep leaves the verification store, a valid store of the same images.
        let kept = try BakeCLI.run(["verify", "app", "--keep", "--json"], in: project, environment: ["TMPDIR": scratch])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(kept.stdout.utf8)) as? [String: Any])
        let folder = try #require(report["kept"] as? String)
        #expect(folder.hasPrefix(scratch + "/bake-verify-"))
        let again = try BakeCLI.run(["--store", folder + "/store", "inspect", "app", "--json"], in: project)
        #expect(again.stdout.contains(try #require(digests["app"])))
    }

    @Test func aPipelineOfRunStepsIsReproducible() throws {
        let dir = TemporaryDirectory()
        let project = dir.at("p")
        try BusyboxProject.write(at: project, images: ["web": """
            from: tools
            steps:
              - run: |
                  mkdir -p /srv/www /var/lib/web
                  echo "hello from $(hostname)" > /srv/www/index.html
                  printf '%s\\n' "$SOURCE_DATE_EPOCH" "$TZ" "$LC_ALL" "$(umask)" > /var/lib/web/env
                  ln -s /srv/www/index.html /srv/www/current
                  touch /srv/www/new
              - run: rm /etc/doomed && chown 1000:1000 /srv/www/new && chmod 0600 /srv/www/new
            config:
              env: {WEB: "1"}
            """])
        #expect(try BakeCLI.run(["build", "web"], in: project).status == 0)
        let result = try Self.verify(["web"], in: project)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("web ") && result.stdout.contains("reproduced"))
    }

    @Test func aStepThatWritesTheTimeFailsAndTheReportShowsBothContents() throws {
        let dir = TemporaryDirectory()
        let project = dir.at("p")
        try BusyboxProject.write(at: project, images: ["stamp": """
            from: tools
            steps:
              - run: echo fixed > /fixed
              - run: date +%s%N > /stamp
            """])
        let built = try BakeCLI.run(["build", "stamp"], in: project)
        #expect(built.status == 0, "\(built.stderr)")
        Self.waitForTheNextSecond(after: Int(Date().timeIntervalSince1970))
        let original = try BakeCLI.run(["run", "stamp", "--", "cat", "/stamp"], in: project).stdout
        #expect(!original.isEmpty)

        let text = try Self.verify(["stamp"], in: project)
        #expect(text.status == 1)
        #expect(text.stdout.contains("tools ") && text.stdout.contains("reproduced"))
        #expect(text.stdout.contains("stamp ") && text.stdout.contains("DIFFERS from build #1"))
        #expect(text.stdout.contains("first difference: stamp, step 2 (run date +%s%N > /stamp), layer 3"))
        #expect(text.stdout.contains("changed /stamp: content sha256"))
        // The unified diff holds the old line (what the build wrote) and a new one.
        #expect(text.stdout.contains("-" + original.trimmingCharacters(in: .newlines)))
        #expect(text.stdout.contains("cause: a timestamp written at build time"))
        #expect(text.stdout.contains("SOURCE_DATE_EPOCH"))

        Self.waitForTheNextSecond(after: Int(Date().timeIntervalSince1970))
        let json = try Self.verify(["stamp", "--json"], in: project)
        #expect(json.status == 1)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(report["reproducible"] as? Bool == false)
        let difference = try #require(report["difference"] as? [String: Any])
        #expect(difference["image"] as? String == "stamp")
        #expect(difference["step"] as? Int == 2)
        #expect(difference["layer"] as? Int == 3)
        let files = try #require(difference["files"] as? [[String: Any]])
        #expect(files.count == 1)
        let stamp = try #require(files.first)
        #expect(stamp["path"] as? String == "/stamp")
        #expect(stamp["change"] as? String == "changed")
        let before = try #require(stamp["before"] as? String)
        let after = try #require(stamp["after"] as? String)
        #expect(before == original)
        #expect(after != before && after.first?.isNumber == true)
        let images = try #require(report["images"] as? [[String: Any]])
        #expect(images.map { $0["reproducible"] as? Bool } == [true, false])
    }

    @Test func aStepThatWritesARandomFileNameFails() throws {
        let dir = TemporaryDirectory()
        let project = dir.at("p")
        try BusyboxProject.write(at: project, images: ["spool": """
            from: tools
            steps:
              - run: mkdir -p /var/spool && mktemp /var/spool/job.XXXXXXXX
            """])
        #expect(try BakeCLI.run(["build", "spool"], in: project).status == 0)
        let result = try Self.verify(["spool", "--json"], in: project)
        #expect(result.status == 1)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let difference = try #require(report["difference"] as? [String: Any])
        #expect(difference["step"] as? Int == 1)
        let files = try #require(difference["files"] as? [[String: Any]])
        #expect(files.map { $0["change"] as? String }.sorted { ($0 ?? "") < ($1 ?? "") } == ["added", "removed"])
        for file in files {
            #expect((file["path"] as? String)?.hasPrefix("/var/spool/job.") == true)
            let cause = try #require(file["cause"] as? [String: Any])
            #expect((cause["name"] as? String)?.contains("random file name") == true)
        }
    }

    @Test func withoutABuildOrALockThereIsNothingToCompare() throws {
        let dir = TemporaryDirectory()
        let project = dir.at("p")
        try BakeCLI.toyProject(at: project)
        let result = try Self.verify(["app"], in: project)
        #expect(result.status == 2)
        #expect(result.stderr.contains("base has not been built"))
        #expect(result.stderr.contains("bake.lock has no result for it"))
        #expect((try? FileManager.default.contentsOfDirectory(atPath: project + "/.bake")) == nil)
    }

    @Test func aFreshCloneIsVerifiedAgainstTheCommittedLock() throws {
        let dir = TemporaryDirectory()
        let project = dir.at("p")
        try BakeCLI.toyProject(at: project)
        #expect(try BakeCLI.run(["build", "app"], in: project).status == 0)
        // A fresh clone: bake.lock, no store.
        let clone = dir.at("clone")
        try Fixture.mkdir(clone)
        try Fixture.copyTree(project + "/images", to: clone + "/images")
        try Fixture.write(clone + "/bake.lock", try Fixture.read(project + "/bake.lock"))
        let result = try Self.verify(["app"], in: clone)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.split(separator: "\n").filter { $0.contains("reproduced (same bytes as bake.lock)") }.count == 3)

        // A lock that says otherwise fails verify, naming the image, with the digests only.
        let lock = try Fixture.read(clone + "/bake.lock")
        let built = try #require(BakeCLI.digests(try BakeCLI.run(["build", "app"], in: project).stdout)["app"])
        let altered = lock.replacingOccurrences(of: built, with: "sha256:" + String(repeating: "0", count: 64))
        #expect(altered != lock)
        try Fixture.write(clone + "/bake.lock", altered)
        try? FileManager.default.removeItem(atPath: clone + "/.bake")
        let failed = try Self.verify(["app"], in: clone)
        #expect(failed.status == 1)
        #expect(failed.stdout.contains("DIFFERS from bake.lock sha256:0000"))
    }

    @Test(.enabled(if: Host.canRun(tools: ["diffoscope"]), "needs diffoscope (Debian: diffoscope-minimal)"))
    func diffoscopeRunsOnTheDifferingFiles() throws {
        let dir = TemporaryDirectory()
        let project = dir.at("p")
        try BusyboxProject.write(at: project, images: ["stamp": "from: tools\nsteps:\n  - run: date +%s > /stamp\n"])
        #expect(try BakeCLI.run(["build", "stamp"], in: project).status == 0)
        let original = try BakeCLI.run(["run", "stamp", "--", "cat", "/stamp"], in: project).stdout.trimmingCharacters(in: .newlines)
        Self.waitForTheNextSecond(after: Int(Date().timeIntervalSince1970))
        let result = try Self.verify(["stamp", "--diffoscope"], in: project)
        #expect(result.status == 1)
        // diffoscope's own report of the two versions of /stamp, under the file's entry.
        let report = result.stdout
        let fileLine = try #require(report.range(of: "changed /stamp"))
        let tail = String(report[fileLine.upperBound...])
        #expect(tail.contains("--- ") && tail.contains("built/stamp"), "\(report)")
        #expect(tail.contains("+++ ") && tail.contains("rebuilt/stamp"), "\(report)")
        #expect(tail.contains("-" + original), "\(report)")

        // Without diffoscope on PATH, --diffoscope is bad input before anything is rebuilt.
        let missing = try BakeCLI.run(["verify", "stamp", "--diffoscope"], in: project, environment: ["PATH": "/nonexistent"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("diffoscope"))
        #expect(missing.stderr.contains("diffoscope-minimal"))
    }

    /// Two images on one parent, built at two revisions: the later build renames the parent
    /// under the new revision, yet the first image is verified against the parent it was
    /// built on (its own record names it), not against the store's newest.
    @Test func anImageIsComparedWithTheParentItWasBuiltOnNotTheNewestOne() throws {
        let dir = TemporaryDirectory()
        let project = dir.at("p")
        try BusyboxProject.write(at: project, images: [
            "pysvc": "from: tools\nsteps:\n  - run: echo py > /svc\n",
            "web": "from: tools\nsteps:\n  - run: echo web > /web\n",
        ])
        let first = try BakeCLI.run(["build", "pysvc"], in: project, environment: ["BAKE_REVISION": String(repeating: "a", count: 40)])
        #expect(first.status == 0, "\(first.stderr)")
        let tools = try #require(BakeCLI.digests(first.stdout)["tools"])
        let second = try BakeCLI.run(["build", "web"], in: project, environment: ["BAKE_REVISION": String(repeating: "b", count: 40)])
        #expect(second.status == 0, "\(second.stderr)")
        // The store now names a tools image labelled with revision b.
        #expect(BakeCLI.digests(second.stdout)["tools"] != tools)
        let result = try Self.verify(["pysvc"], in: project)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let line = try #require(result.stdout.split(separator: "\n").first { $0.hasPrefix("tools ") })
        #expect(line.contains(tools) && line.contains("reproduced"), "\(result.stdout)")
        // web, built at revision b, is compared with the tools of revision b.
        let other = try Self.verify(["web"], in: project)
        #expect(other.status == 0, "\(other.stdout)\n\(other.stderr)")
        // tools by name is its current build (revision b), which pysvc was not built on.
        let both = try Self.verify(["tools", "pysvc"], in: project)
        #expect(both.status == 2)
        #expect(both.stderr.contains("pysvc was built on another build of tools than the one the store names"), "\(both.stderr)")
    }
}
