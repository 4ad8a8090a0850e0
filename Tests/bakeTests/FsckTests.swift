import Foundation
import Testing
import TestSupport

/// `bake fsck` checks everything the store holds, never follows a symlink, never hangs and
/// names the repair; `bake fsck --repair` moves what is broken out of the way and loses
/// nothing valid (issue 14, item 9); read-only commands work on a read-only store (item 10).
@Suite struct FsckTests {
    /// The toy pipeline built; returns its digests.
    static func built(_ project: String) throws -> [String: String] {
        try BakeCLI.toyProject(at: project)
        let build = try BakeCLI.run(["build"], in: project)
        guard build.status == 0 else { throw FixtureError("build: \(build.stderr)") }
        return BakeCLI.digests(build.stdout)
    }

    /// fsck under a watchdog: one that never returned is killed, never hangs the suite.
    static func fsck(_ project: String, repair: Bool = false) throws -> CommandResult {
        try HostileInputTests.runGuarded(["fsck"] + (repair ? ["--repair"] : []), in: project)
    }

    /// Repairs, then checks the store is sound and the next build is all cache hits with
    /// the same digests: the repair lost nothing valid.
    static func repairLosesNothing(_ project: String, digests: [String: String], rebuilt: Set<String> = []) throws {
        let repair = try Self.fsck(project, repair: true)
        #expect(repair.status == 0, "\(repair.stdout) \(repair.stderr)")
        #expect(repair.stdout.contains("repaired: moved ") || repair.stdout.contains("repaired: wrote ") || repair.stdout.contains("repaired: dropped "),
                "\(repair.stdout)")
        let clean = try Self.fsck(project)
        #expect(clean.status == 0, "\(clean.stdout) \(clean.stderr)")
        let build = try BakeCLI.run(["--progress", "json", "build"], in: project)
        #expect(build.status == 0, "\(build.stderr)")
        let steps = BakeCLI.steps(build.stdout)
        #expect(steps.filter { $0.value == "built" }.keys.sorted() == rebuilt.sorted(), "\(steps)")
        let after = BakeCLI.events(build.stdout).first { $0["event"] as? String == "done" }?["images"] as? [[String: Any]] ?? []
        #expect(Dictionary(uniqueKeysWithValues: after.compactMap { entry in
            (entry["image"] as? String).map { ($0, entry["digest"] as? String ?? "") }
        }) == digests)
        #expect(try Self.fsck(project).status == 0)
    }

    @Test func aBlobNamedOnlyByAnOldBuildRecordIsChecked() throws {
        let dir = TemporaryDirectory("bake-fsck")
        let project = dir.at("p")
        _ = try Self.built(project)
        try Fixture.write(project + "/images/app/site/index.html", "<p>second</p>\n")
        let second = try BakeCLI.run(["build"], in: project)
        #expect(second.status == 0, "\(second.stderr)")
        // The manifest of app@1 is named by its build record only.
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: project + "/.bake/builds/app/000001.json"))) as? [String: Any]
        let manifest = try #require(record?["manifest"] as? String)
        try FileManager.default.removeItem(atPath: project + "/.bake/oci/blobs/sha256/" + manifest.dropFirst(7))
        let fsck = try Self.fsck(project)
        #expect(fsck.status == 1)
        #expect(fsck.stderr.contains("bake: build app@1 names the manifest \(manifest), which is missing or corrupt, so 'bake export app@1' cannot work "
            + "(bake fsck --repair moves it to lost+found; 'bake history app' no longer lists it)"), "\(fsck.stderr)")
        try Self.repairLosesNothing(project, digests: BakeCLI.digests(second.stdout))
        #expect(!(try BakeCLI.run(["history", "app"], in: project)).stdout.contains("app@1 "))
        #expect(FileManager.default.fileExists(atPath: project + "/.bake/lost+found/builds/app/000001.json"))
    }

    @Test func garbageCacheEntriesAndBuildRecordsAreReported() throws {
        let dir = TemporaryDirectory("bake-fsck")
        let project = dir.at("p")
        let digests = try Self.built(project)
        let key = String(repeating: "ab", count: 32)
        try Fixture.write(project + "/.bake/cache/steps/\(key).json", "{")
        try Fixture.write(project + "/.bake/cache/steps/junk", "junk")
        try Fixture.write(project + "/.bake/builds/app/000009.json", "not a record")
        try Fixture.write(project + "/.bake/builds/app/notes.txt", "mine")
        try Fixture.write(project + "/.bake/cache/inputs/" + String(repeating: "cd", count: 32), "bake-inputs 1\n")
        let fsck = try Self.fsck(project)
        #expect(fsck.status == 1)
        let problems = fsck.stderr.split(separator: "\n").filter { $0.hasPrefix("bake: ") && !$0.hasPrefix("bake: warning") }
        #expect(problems.count == 5, "\(fsck.stderr)")
        #expect(fsck.stderr.contains("the step cache entry \(project)/.bake/cache/steps/\(key).json is not valid OCI JSON"), "\(fsck.stderr)")
        #expect(fsck.stderr.contains("\(project)/.bake/cache/steps/junk is not a step cache entry"), "\(fsck.stderr)")
        #expect(fsck.stderr.contains("the build record \(project)/.bake/builds/app/000009.json is not valid OCI JSON"), "\(fsck.stderr)")
        #expect(fsck.stderr.contains("\(project)/.bake/builds/app/notes.txt is not a build record"), "\(fsck.stderr)")
        #expect(fsck.stderr.contains("is not the listing it is named after"), "\(fsck.stderr)")
        try Self.repairLosesNothing(project, digests: digests)
    }

    @Test(arguments: ["symlink", "fifo", "folder"])
    func aBlobThatIsNotARegularFileIsReportedNeverFollowedOrWaitedOn(_ kind: String) throws {
        let dir = TemporaryDirectory("bake-fsck")
        let project = dir.at("p")
        let digests = try Self.built(project)
        let inspect = try BakeCLI.run(["inspect", "app", "--json"], in: project)
        let layer = try #require(try BaseImportTests.layerDigests(inspect.stdout).last)
        let blob = project + "/.bake/oci/blobs/sha256/" + layer.dropFirst(7)
        try FileManager.default.removeItem(atPath: blob)
        switch kind {
        case "symlink": try Fixture.symlink("/dev/zero", at: blob)
        case "fifo": #expect(mkfifo(blob, 0o644) == 0)
        default: try Fixture.mkdir(blob)
        }
        let fsck = try Self.fsck(project)
        #expect(fsck.status == 1, "\(fsck.status) \(fsck.stderr)")
        let article = ["symlink": "a symlink", "fifo": "a named pipe", "folder": "a folder"][kind]!
        #expect(fsck.stderr.contains("bake: blob \(layer) is \(article), not a regular file (bake fsck --repair moves it to lost+found; the next build makes it again)"),
                "\(fsck.stderr)")
        #expect(fsck.stderr.contains("image app: layer \(layer) is missing or corrupt"), "\(fsck.stderr)")
        try Self.repairLosesNothing(project, digests: digests, rebuilt: ["app/2"])
    }

    @Test func aMissingLayoutFileIsNamedNotMistakenForNoStore() throws {
        let dir = TemporaryDirectory("bake-fsck")
        let project = dir.at("p")
        let digests = try Self.built(project)
        try FileManager.default.removeItem(atPath: project + "/.bake/oci/oci-layout")
        let fsck = try Self.fsck(project)
        #expect(fsck.status == 1)
        #expect(fsck.stderr.contains("the store has no \(project)/.bake/oci/oci-layout, the file that makes .bake/oci an OCI layout (bake fsck --repair writes it)"),
                "\(fsck.stderr)")
        let inspect = try BakeCLI.run(["inspect", "app"], in: project)
        #expect(inspect.stderr.contains("run 'bake fsck --repair' to write it"), "\(inspect.stderr)")
        try Self.repairLosesNothing(project, digests: digests)
    }

    @Test func aGarbageIndexNamesTheRepairWhichRebuildsItFromTheRecords() throws {
        let dir = TemporaryDirectory("bake-fsck")
        let project = dir.at("p")
        let digests = try Self.built(project)
        try Fixture.write(project + "/.bake/oci/index.json", "garbage")
        for command in [["build"], ["gc"], ["inspect", "app"]] {
            let result = try BakeCLI.run(command, in: project)
            #expect(result.status == 1, "\(command): \(result.stderr)")
            #expect(HostileInputTests.lastLine(result.stderr).hasSuffix("; run 'bake fsck --repair' to write it again from the build records"),
                    "\(command): \(result.stderr)")
        }
        let fsck = try Self.fsck(project)
        #expect(fsck.status == 1)
        #expect(fsck.stderr.contains("(bake fsck --repair moves it to lost+found and writes it again from the build records)"), "\(fsck.stderr)")
        try Self.repairLosesNothing(project, digests: digests)
        let inspect = try BakeCLI.run(["inspect", "app", "--json"], in: project)
        #expect(inspect.status == 0, "\(inspect.stderr)")
    }

    @Test func anIndexEntryWhoseSizeIsWrongIsReportedAndDropped() throws {
        let dir = TemporaryDirectory("bake-fsck")
        let project = dir.at("p")
        let digests = try Self.built(project)
        let path = project + "/.bake/oci/index.json"
        var index = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        var manifests = try #require(index["manifests"] as? [[String: Any]])
        let position = try #require(manifests.firstIndex { ($0["annotations"] as? [String: String])?["org.opencontainers.image.ref.name"] == "app" })
        manifests[position]["size"] = 4_611_686_018_427_387_904 as Int64
        index["manifests"] = manifests
        try JSONSerialization.data(withJSONObject: index).write(to: URL(fileURLWithPath: path))
        let fsck = try Self.fsck(project)
        #expect(fsck.status == 1)
        #expect(fsck.stderr.contains("image app: manifest sha256:") && fsck.stderr.contains(" is described as 4611686018427387904 bytes but has "),
                "\(fsck.stderr)")
        try Self.repairLosesNothing(project, digests: digests)
    }

    @Test func killedBuildsLeaveNothingFsckReports() throws {
        // What a kill can leave (a write cut short in tmp, staged files) is not a problem.
        let dir = TemporaryDirectory("bake-fsck")
        let project = dir.at("p")
        _ = try Self.built(project)
        try Fixture.write(project + "/.bake/tmp/blob-AbCdEf", "half a blob")
        try Fixture.write(project + "/.bake/tmp/.bake-tmp-XyZ123", "half an index")
        let fsck = try Self.fsck(project)
        #expect(fsck.status == 0, "\(fsck.stderr)")
    }

    // MARK: - 10. a read-only store

    @Test(.enabled(if: Host.canRun(tools: ["unshare"], root: true)))
    func readingCommandsWorkOnAReadOnlyStore() throws {
        let dir = TemporaryDirectory("bake-fsck")
        let project = dir.at("p")
        _ = try Self.built(project)
        // The store, mounted read-only in a mount namespace of its own (nothing else sees it).
        let commands: [[String]] = [
            ["fsck"], ["inspect", "app"], ["inspect", "app", "--json"], ["plan"], ["history", "app"], ["why", "app"],
            ["export", "app", "--format", "oci-archive", "--output", dir.at("app.tar")],
        ]
        let quoted = commands.map { "'\(BakeCLI.binary)' " + $0.map { "'\($0)'" }.joined(separator: " ") + " >/dev/null || echo \"failed: \($0.joined(separator: " "))\"" }
        let script = """
            mount --bind "$STORE" "$STORE" && mount -o remount,bind,ro "$STORE" || exit 99
            touch "$STORE/probe" 2>/dev/null && echo "the store is writable"
            \(quoted.joined(separator: "\n"))
            '\(BakeCLI.binary)' build app 2>&1 >/dev/null | tail -1
            """
        let result = try Command.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script], in: project,
                                     environment: BakeCLI.baseEnvironment.merging(["STORE": project + "/.bake"]) { $1 })
        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(!lines.contains { $0.hasPrefix("failed: ") || $0 == "the store is writable" }, "\(result.stdout)")
        #expect(lines.last?.hasPrefix("bake: the store \(project)/.bake is read-only (Read-only file system): this command writes to it") == true,
                "\(result.stdout)")
    }
}
